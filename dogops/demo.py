"""`invoke demo`: the whole local loop, ending with a real prediction from the model just trained.

Emulator -> sample digits dataset -> tiny training (resnet18, 16 px, 3 epochs, no pretrained
weights) -> deploy (Terraform on the emulator + local endpoint host) -> predict through the
deployed Lambda on a known test image.
"""

from __future__ import annotations

import time

from dogops import config
from dogops.backend import for_target
from dogops.deploy import deploy
from dogops.predict import format_predictions, predict
from dogops.train import TrainRequest, train


def run_demo() -> float:
    from dogops.sample_data import make_digits_imagefolder, sample_image

    started = time.monotonic()

    def step(message: str) -> None:
        print(f"\n== [{time.monotonic() - started:5.1f} s] {message}", flush=True)

    step("starting the local AWS emulator")
    backend = for_target("local")
    print(f"emulator at {backend.endpoint_url}")
    step("making the sample dataset (scikit-learn's handwritten digits, ImageFolder layout)")
    data_root = make_digits_imagefolder(config.paths("local").state_dir / "sample-digits")
    step("invoke train (local, tiny: resnet18, 16 px, 3 epochs, no pretrained weights)")
    train(TrainRequest(target="local", sample_data=data_root), backend)
    step("invoke deploy (Terraform on the emulator + local endpoint host)")
    deploy(backend)
    image, expected = sample_image(data_root)
    step(f"invoke predict --image {image}  (a handwritten '{expected}')")
    predictions = predict(backend, image=str(image))
    print(format_predictions(predictions))
    elapsed = time.monotonic() - started
    verdict = "right" if predictions and predictions[0].label == expected else "wrong"
    print(f"\ntop prediction: {predictions[0].label!r} ({verdict}; the image shows "
          f"'{expected}')\ndemo finished in {elapsed:.0f} s. Next: `invoke predict --image "
          "PATH`, `invoke plan`, `invoke destroy`")
    return elapsed
