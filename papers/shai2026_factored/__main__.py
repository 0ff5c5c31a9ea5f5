"""``python -m papers.shai2026_factored [--tiny|--quick|--full] ...`` (see README.md)."""
from .experiment import main

raise SystemExit(main())
