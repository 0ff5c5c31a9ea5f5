"""Make ``docs/report-demo.png``: a ``report.html`` with the demo's figures, from a quick run.

    .venv/bin/python docs/report_demo.py [--out runs/report-demo] [--steps 10 100 400 1500]

The Bloch walk (the demo's process): its belief manifold in the Bloch ball (3-D, drag to
rotate), a small transformer trained with exact next-symbol targets in short segments
(each resumed from the last checkpoint), the probe of every layer at each checkpoint (the
training slider: real checkpoints, the same held-out prefixes at every step), the fit by
layer with its controls and the verdict, and attention by distance per head with the
predicted decays.  The page is then opened in headless Chromium (:mod:`nets.browser`) and
screenshot.  About three minutes on two CPU cores.

``make demo`` writes the demo's own page, ``runs/demo/report.html`` (the Bloch ball, the
true beliefs beside the probe projection, the fit by layer; no training slider or
attention panel); ``docs/demo-report.png`` is its screenshot, taken with
``nets.browser.check_page("runs/demo/report.html", ...)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "runs" / "report-demo"))
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 100, 400, 1500])
    ap.add_argument("--screenshot", default=str(ROOT / "docs" / "report-demo.png"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rep = build_report(out, sorted(args.steps))
    rep.write(out / "report.md")
    page = out / "report.html"
    print(f"wrote {page} ({page.stat().st_size / 1e3:.0f} kB)")
    from nets.browser import check_page

    chk = check_page(page, args.screenshot, width=1400, height=2650)
    shrink(chk.screenshot)
    print(f"screenshot {chk.screenshot}: {chk.rendered} figures drawn, {chk.errors} failed, "
          f"{len(chk.console)} console messages")
    return 0 if chk.errors == 0 and not chk.console else 1


def shrink(png: Path) -> None:
    """Re-save the screenshot with a 256-colour palette (about a third of the bytes)."""
    from PIL import Image  # pillow: a dependency of matplotlib

    Image.open(png).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(png, optimize=True)


def build_report(out: Path, steps: list[int]):
    """The report: manifold, training with checkpoints, probe, attention."""
    from bayes import attention_decay_rates, mixed_state_presentation, plot_beliefs
    from generators import library
    from nets.attention import attention_analysis, plot_attention_decay
    from nets.document import Report
    from nets.interactive import attention_spec, checkpoint_from_result
    from nets.probe import build_probe_dataset
    from nets.probe.plots import plot_belief_geometry, plot_fit_by_layer
    from nets.report import plot_loss_curve
    from nets.train import train

    g = library.bloch_walk()
    rep = Report("qbelief: does a transformer represent the belief geometry of the Bloch walk? (quick run)")
    rep.text("A quick stand-in for `make demo`'s report: the same figures from a small model trained for "
             f"{steps[-1]} steps.")
    rep.section("1. The belief manifold")
    man = mixed_state_presentation(g, 7, progress=False)
    fig = plot_beliefs(man, interactive=True, max_points=3000)
    plot_beliefs(man, out / "bloch_walk_beliefs.png")
    rep.figure(out / "bloch_walk_beliefs.png", "The Bloch walk's beliefs in the Bloch ball (a disk in the x-z plane)",
               interactive=fig.spec)

    rep.section("2. Training, with the probe at each checkpoint")
    cfg = dict(process=g, model=dict(kind="transformer", n_layers=2, d_model=32, n_heads=2, d_head=16, d_mlp=64),
               context=6, data_mode="exact", targets="exact", optimizer="adam", lr=3e-3, batch_size=128,
               num_threads=1, seed=0, out_dir=str(out / "run"), quiet=True, eval_every=50, log_every=5)
    checkpoints, res = [], None
    for i, s in enumerate(steps):
        res = train(dict(cfg, steps=s), resume=i > 0)
        last = s == steps[-1]
        ds = build_probe_dataset(g, res.model, context=6, markov_order=2, untrained="auto" if last else None)
        pr = ds.probe("minimal", seed=0)
        checkpoints.append(checkpoint_from_result(pr, s))
        print(f"step {s}: held-out R2 {pr.points[pr.headline].r2:.4f}")
    plot_loss_curve({"exact targets": res.history}, out / "loss_curve.png", x="step",
                    title="Bloch walk: transformer loss / Bayes-optimal loss")
    rep.figure(out / "loss_curve.png", "Training loss relative to the Bayes-optimal loss")

    rep.section("3. The probe")
    plot_belief_geometry(pr, out / "belief_geometry.png")
    plot_fit_by_layer(pr, out / "fit_by_layer.png")
    pr.report_section(rep, figures=(out / "belief_geometry.png", out / "fit_by_layer.png"), dataset=ds,
                      checkpoints=checkpoints)

    rep.section("4. Attention by distance")
    att = attention_analysis(res.model, g, n_samples=512, seed=0)
    plot_attention_decay(att, out / "attention.png")
    rates = attention_decay_rates(g)
    rep.figure(out / "attention.png", "Mean attention by distance per head, fitted and predicted decay",
               interactive=attention_spec(att, rates))
    rep.reproduce("python docs/report_demo.py")
    return rep


if __name__ == "__main__":
    raise SystemExit(main())
