"""TensorBoard's own reader on an initlab run directory.

Loads RUN_DIR with tensorboard's EventAccumulator (which checks every record's CRC32C: a bad
record ends its file early, and the counts below then fail), and compares the `epoch/train_cost`
scalars with the run's history.csv, to f32 rounding (TensorBoard's simple_value is a float).
Also checks that every step's loss, the epoch scalars, the weight and gradient histograms and the
dynamics scalars are there.

Usage: python scripts/check-tensorboard.py RUN_DIR
       python scripts/check-tensorboard.py --write-fixture FILE

The second form writes, with TensorBoard's own EventFileWriter and protobuf classes, the event file
that initlab's unit tests read back and re-encode (tests/golden/tensorboard/).
"""

import csv
import json
import math
import sys
from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator as ea


def fail(msg):
    print(f"check-tensorboard: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def write_fixture(path):
    """Events of every kind initlab writes, and some it does not decode, at fixed times."""
    import shutil
    import tempfile

    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    Value = summary_pb2.Summary.Value
    histo = summary_pb2.HistogramProto(
        min=-1.0, max=2.0, num=3.0, sum=1.0, sum_squares=6.0,
        bucket_limit=[0.0, 1.0, 2.0], bucket=[1.0, 1.0, 1.0],
    )
    events = [
        event_pb2.Event(wall_time=1.5e9, step=1, summary=summary_pb2.Summary(value=[
            Value(tag="a/scalar", simple_value=0.25), Value(tag="b/histo", histo=histo)])),
        event_pb2.Event(wall_time=1.5e9 + 1, step=3,
                        session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)),
        event_pb2.Event(wall_time=1.5e9 + 2, step=-5, summary=summary_pb2.Summary(value=[
            Value(tag="a/scalar", simple_value=-2.0)])),
        # Fields initlab does not decode: a tensor value with metadata, source metadata.
        event_pb2.Event(wall_time=1.5e9 + 3, step=300, summary=summary_pb2.Summary(value=[
            Value(tag="c/tensor", metadata=summary_pb2.SummaryMetadata(display_name="t"),
                  tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0]))]),
            source_metadata=event_pb2.SourceMetadata(writer="fixture")),
    ]
    tmp = tempfile.mkdtemp()
    try:
        w = EventFileWriter(tmp)
        for e in events:
            w.add_event(e)
        w.close()
        (written,) = Path(tmp).glob("events.out.tfevents.*")
        shutil.copyfile(written, path)
    finally:
        shutil.rmtree(tmp)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--write-fixture":
        write_fixture(sys.argv[2])
        return
    if len(sys.argv) != 2:
        fail("usage: check-tensorboard.py RUN_DIR | --write-fixture FILE")
    run = Path(sys.argv[1])
    files = sorted(run.glob("events.out.tfevents.*"))
    if not files:
        fail(f"{run} has no event file")
    # 0: keep every event (the default samples scalars down to 10,000 and histograms to 500).
    acc = ea.EventAccumulator(str(run), size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()

    with open(run / "history.csv", newline="") as f:
        history = list(csv.DictReader(f))
    costs = acc.Scalars("epoch/train_cost")
    if [e.step for e in costs] != [int(r["epoch"]) for r in history]:
        fail(f"epoch/train_cost steps {[e.step for e in costs]}, history.csv has {len(history)} epochs")
    worst = 0.0
    for e, r in zip(costs, history):
        want = float(r["train_cost"])
        # f32 rounding (relative 2^-24) and the csv's 9 decimals.
        tol = abs(want) * 2.0**-23 + 1e-9
        if abs(e.value - want) > tol:
            fail(f"epoch {e.step}: TensorBoard has train cost {e.value!r}, history.csv {want!r}")
        worst = max(worst, abs(e.value - want))
    for tag in ("epoch/test_loss", "epoch/test_accuracy"):
        if len(acc.Scalars(tag)) != len(history):
            fail(f"{tag}: {len(acc.Scalars(tag))} points for {len(history)} epochs")

    spec = json.loads((run / "run.json").read_text())["spec"]
    train = spec["train"]
    losses = acc.Scalars("train/loss_step")
    # Every step once, in order (the run trains on train_limit images: this script's tiny run).
    if train.get("train_limit"):
        steps = len(history) * (train["train_limit"] // train["batch_size"])
        if [e.step for e in losses] != list(range(1, steps + 1)):
            fail(f"train/loss_step has {len(losses)} points, expected steps 1..{steps}")

    layers = len(spec["model"]["widths"]) - 1
    hists = set(tags["histograms"])
    for kind in ("weights", "gradients"):
        for l in range(1, layers + 1):
            for var in ("weight", "bias"):
                tag = f"{kind}/linear{l}.{var}"
                if tag not in hists:
                    fail(f"no histogram {tag} (histograms: {sorted(hists)})")
                h = acc.Histograms(tag)
                if [e.step for e in h] != [int(r["epoch"]) for r in history]:
                    fail(f"{tag}: steps {[e.step for e in h]}")
                if abs(sum(h[-1].histogram_value.bucket) - h[-1].histogram_value.num) > 0:
                    fail(f"{tag}: bucket counts do not add up to num")
    dyn = [t for t in tags["scalars"] if t.startswith("dynamics/")]
    if "dynamics/linear1/update_log10" not in dyn:
        fail(f"no dynamics scalars (scalars: {tags['scalars']})")
    if math.isnan(worst):
        fail("NaN")
    print(
        f"check-tensorboard: OK: {len(files)} event file(s), {len(tags['scalars'])} scalar tags "
        f"({len(dyn)} dynamics), {len(hists)} histogram tags, {len(losses)} steps; "
        f"epoch/train_cost matches history.csv (largest difference {worst:.3g})"
    )


if __name__ == "__main__":
    main()
