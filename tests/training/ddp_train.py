"""Train (or resume) a run with Lightning DDP over CPU processes; run by test_ddp.py as a script.

Lightning's DDP launcher starts the other ranks by running this same command again, so it must
be a file, not ``python -c``.

    python ddp_train.py OUT --devices 2 --epochs 3 --batch-size 64 [--resume]
"""

import argparse

from galmerge.pipeline import train_and_evaluate
from galmerge.training import TrainConfig

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--devices", type=int, default=2)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--resume", action="store_true")
args = parser.parse_args()

if args.resume:
    train_and_evaluate(resume=args.out, overrides={"epochs": args.epochs}, progress=False)
else:
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=2, accelerator="cpu", devices=args.devices, lr_schedule="constant", early_stopping_patience=0, n_bootstrap=200)
    train_and_evaluate("toy:600", config=config, out=args.out, progress=False)
