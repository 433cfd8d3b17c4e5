"""Faithful re-creation of the starter code everyone copies (hpo.py / ec2train1.py /
inference2.py), kept only as the baseline of the benchmarks. Do not use it for anything else.

Kept as it was, on purpose: frozen ResNet-50 with an fc head, no ImageNet normalisation, PIL
transforms per item with ``num_workers=0``, the loss divided with ``//``, CPU only, one epoch
then ``break``; serving builds the transform per request, squashes to 224x224 with PIL and runs
eager NCHW. Two changes, both forced by this machine: the backbone is built with
``weights=None`` (no download offline) and the model is passed in rather than rebuilt from
``pretrained=True`` inside ``model_fn``.
"""

from __future__ import annotations

import io
import json
import os

import torch
import torchvision
from PIL import Image
from torch import nn, optim
from torchvision import models, transforms

JPEG_CONTENT_TYPE = "image/jpeg"


def net(num_classes: int = 133) -> nn.Module:
    model = models.resnet50(weights=None)  # starter: models.resnet50(pretrained=True)
    for param in model.parameters():
        param.requires_grad = False
    num_features = model.fc.in_features
    model.fc = nn.Sequential(nn.Linear(num_features, num_classes))
    return model


def create_data_loaders(data, batch_size):
    train_data_path = os.path.join(data, "train")
    validation_data_path = os.path.join(data, "valid")
    train_transform = transforms.Compose(
        [
            transforms.RandomResizedCrop((224, 224)),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
        ]
    )
    test_transform = transforms.Compose(
        [
            transforms.Resize((224, 224)),
            transforms.ToTensor(),
        ]
    )
    train_data = torchvision.datasets.ImageFolder(root=train_data_path, transform=train_transform)
    train_data_loader = torch.utils.data.DataLoader(train_data, batch_size=batch_size, shuffle=True)
    validation_data = torchvision.datasets.ImageFolder(
        root=validation_data_path, transform=test_transform
    )
    validation_data_loader = torch.utils.data.DataLoader(
        validation_data, batch_size=batch_size, shuffle=True
    )
    return train_data_loader, validation_data_loader


def train(model, train_loader, validation_loader, criterion, optimizer, epochs=5):
    best_loss = 1e6
    image_dataset = {"train": train_loader, "valid": validation_loader}
    loss_counter = 0
    for epoch in range(epochs):
        for phase in ["train", "valid"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
            running_loss = 0.0
            running_corrects = 0
            running_samples = 0
            for _step, (inputs, labels) in enumerate(image_dataset[phase]):
                outputs = model(inputs)
                loss = criterion(outputs, labels)
                if phase == "train":
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                _, preds = torch.max(outputs, 1)
                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels.data).item()
                running_samples += len(inputs)
            epoch_loss = running_loss // running_samples
            epoch_acc = running_corrects / running_samples
            print(f"{phase} loss: {epoch_loss:.4f}, acc: {epoch_acc:.4f}")
            if phase == "valid":
                if epoch_loss < best_loss:
                    best_loss = epoch_loss
                else:
                    loss_counter += 1
        if loss_counter == 1:
            break
        if epoch == 0:
            break
    return model


def make_optimizer(model, learning_rate):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.fc.parameters(), lr=learning_rate)
    return criterion, optimizer


# --- serving (inference2.py) -----------------------------------------------------------------


def input_fn(request_body, content_type=JPEG_CONTENT_TYPE):
    if content_type == JPEG_CONTENT_TYPE:
        return Image.open(io.BytesIO(request_body))
    raise Exception(f"Requested unsupported ContentType in content_type: {content_type}")  # noqa: TRY002


def predict_fn(input_object, model):
    test_transform = transforms.Compose(
        [
            transforms.Resize((224, 224)),
            transforms.ToTensor(),
        ]
    )
    input_object = test_transform(input_object)
    with torch.no_grad():
        prediction = model(input_object.unsqueeze(0))
    return prediction


def output_fn(prediction):
    # The toolkit's default encoder turns the tensor into a nested JSON list of logits.
    return json.dumps(prediction.tolist())
