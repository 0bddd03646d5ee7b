"""The synthetic network behind ``threatml demo``: Zeek logs with injected attacks and their ground truth."""

from threatml.demo.network import DemoScenario, InjectedAttack, generate, load_ground_truth

__all__ = ["DemoScenario", "InjectedAttack", "generate", "load_ground_truth"]
