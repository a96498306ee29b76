"""A linear model learnt by gradient descent, and its evaluation."""

import json
import logging
from pathlib import Path

from experimaestro import (
    Config,
    Constant,
    LightweightTask,
    Meta,
    Param,
    PathGenerator,
    Task,
    field,
    tqdm,
)

from .data import Points


class Linear(Config):
    """y = a x + b, the model"""

    init: Param[float] = 0.0
    steps_per_epoch: Param[int] = 10

    def __post_init__(self):
        self.a = self.b = self.init

    def predict(self, x: float) -> float:
        return self.a * x + self.b


class ParameterLoader(LightweightTask):
    model: Param[Linear]
    path: Meta[Path]

    def execute(self):
        values = json.loads(self.path.read_text())
        self.model.a, self.model.b = values["a"], values["b"]


class Learn(Task):
    """Learn the line from the training points"""

    runpath: Meta[Path] = field(default_factory=PathGenerator("runs"))
    parameters_path: Meta[Path] = field(default_factory=PathGenerator("parameters.json"))
    data: Param[Points]
    model: Param[Linear]
    epochs: Param[int] = 2
    lr: Param[float] = 1e-2
    version: Constant[str] = "1"

    def task_outputs(self, dep):
        return dep(ParameterLoader.C(model=self.model, path=self.parameters_path))

    def execute(self):
        points = self.data.load()
        model = self.model
        self.runpath.mkdir(parents=True, exist_ok=True)
        with (self.runpath / "loss.csv").open("w") as log:
            for epoch in tqdm(range(self.epochs)):
                loss = 0.0
                for x, y in points:
                    error = model.predict(x) - y
                    model.a -= self.lr * error * x
                    model.b -= self.lr * error
                    loss += error * error
                log.write(f"{epoch},{loss / len(points)}\n")
        logging.info("learnt a=%.3f b=%.3f", model.a, model.b)
        self.parameters_path.write_text(json.dumps({"a": model.a, "b": model.b}))


class Evaluate(Task):
    model: Param[Linear]
    data: Param[Points]
    results_path: Meta[Path] = field(default_factory=PathGenerator("results.json"))

    def execute(self):
        points = self.data.load()
        mse = sum((self.model.predict(x) - y) ** 2 for x, y in points) / len(points)
        self.results_path.write_text(json.dumps({"mse": mse, "a": self.model.a}))
