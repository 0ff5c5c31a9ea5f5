"""``python -m papers.riechers2025_quantum [--tiny|--quick|--full] ...`` (see README.md)."""
from .experiment import main

raise SystemExit(main())
