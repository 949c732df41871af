"""YAML scenario -> validated model of the scenario. Imports nothing of the UI."""
from rnntui.scenario.loader import Scenario, load_scenario

__all__ = ["Scenario", "load_scenario"]
