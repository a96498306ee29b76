"""The experiment: a grid of learning rates and initial values, each evaluated."""

import logging

from datamaestro import prepare_dataset
from experimaestro import RunMode, tag
from experimaestro.experiments import ExperimentHelper, configuration
from experimaestro.experiments.configuration import ConfigurationBase
from experimaestro.launcherfinder import find_launcher
from xpm_mlboard import TensorboardService

from .data import ToyPoints
from .learn import Evaluate, Learn, Linear

logging.basicConfig(level=logging.INFO)


@configuration
class Configuration(ConfigurationBase):
    lrs: list[float] = [1e-2]
    inits: list[float] = [0.0]
    epochs: int = 2
    launcher: str = """duration=1h & cpu(cores=1)"""


def run(helper: ExperimentHelper, cfg: Configuration):
    launcher = find_launcher(cfg.launcher)
    logging.info("launcher: %s", launcher)
    points = prepare_dataset(ToyPoints)

    board = None
    if helper.xp.workspace.run_mode != RunMode.DRY_RUN:
        board = helper.xp.add_service(TensorboardService(helper.xp.resultspath / "runs"))

    for lr in cfg.lrs:
        for init in cfg.inits:
            model = Linear.C(init=tag(init))
            learn = Learn.C(data=points.train, model=model, epochs=cfg.epochs, lr=tag(lr))
            loader = learn.submit(launcher=launcher)
            if board is not None:
                board.add(learn, learn.runpath)
            Evaluate.C(model=model, data=points.test).submit(init_tasks=[loader])

    helper.xp.wait()
