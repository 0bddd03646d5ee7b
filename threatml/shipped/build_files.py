"""Rebuild the shipped file model ``file-clamp`` from ClaMP's raw PE header table.

    python -m threatml.shipped.build --only files

Data: ``files/clamp/dataset/ClaMP_Raw-5184.csv`` (5184 files: 2683 malware,
2501 benign; DOS, file and optional header fields under pefile's names). The
model sees :func:`~threatml.files.header_features.header_model_features`
(time stamps, exact checksums and image bases left out; flag words split into
bits) and is trained with stratum-balancing weights
(:mod:`threatml.files.confounds`). The card holds 5-fold out-of-fold metrics,
the composition-shifted ones, and the alert threshold (1% of out-of-fold
benign scores above it). Deterministic: fixed seed, one thread.
"""

from __future__ import annotations

from pathlib import Path

from threatml.models.card import DataFile, sha256_file

HERE = Path(__file__).resolve().parent
CLAMP_DIR = HERE / "files" / "clamp"
CLAMP_CSV = "files/clamp/dataset/ClaMP_Raw-5184.csv"


def build(root: Path, out: Path = CLAMP_DIR) -> str:
    from threatml.files.header_features import load_header_table
    from threatml.files.training import train_header

    path = Path(root) / CLAMP_CSV
    if not path.exists():
        return f"file-clamp: skipped, {path} not found"
    header, y, notes = load_header_table(path)
    model, metrics, more = train_header(header, y, seed=0)
    card = model.save(out, name="file-clamp", feature_set="pe-header", version="1",
                      description="LightGBM on PE DOS/file/optional header fields (pefile names), trained on ClaMP raw",
                      training_data=[DataFile(path=CLAMP_CSV, sha256=sha256_file(path), rows=len(y))],
                      metrics=metrics, notes=notes + more)
    size = sum(f.stat().st_size for f in out.iterdir())
    return (f"file-clamp: {out} ({size / 1e6:.2f} MB) 5-fold roc_auc={metrics['roc_auc']} "
            f"dr@1%fpr={metrics['detection_rate_at_fpr_1pct']} shifted_roc_auc={metrics['shifted_roc_auc']} "
            f"threshold={card.parameters['threshold']:.4f}")
