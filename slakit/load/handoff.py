"""What the master of a distributed run hands each worker, as data over Locust's messages.

A worker is started knowing only where the master is and its own index; once connected
it says hello, and the master answers with its plan: the validated scenario, the target
(with its API key and Elasticsearch credential, so no secret is ever on a command line)
and this worker's share of the load. The worker validates the scenario again with the
same model, so it runs exactly what the master checked, and says ready once its users
can start; the master starts the load only when every worker is ready.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from slakit.es_auth import EsAuth
from slakit.scenario import Scenario
from slakit.scenario.schedules import Pace
from slakit.target import ResolvedTarget

HELLO = "slakit_hello"  # worker -> master, once connected: {"index": i}
PLAN = "slakit_plan"  # master -> that worker: its WorkerPlan as a dict
READY = "slakit_ready"  # worker -> master, once its users can start: {"index": i}


@dataclass
class WorkerPlan:
    """One worker's part of a load step."""

    scenario: dict  # Scenario.model_dump(mode="json")
    target: dict  # ResolvedTarget.public()
    api_key: str | None
    es_auth: dict | None  # EsAuth.secrets()
    samples: str  # the file this worker writes its samples to
    pace: dict | None  # this worker's share of the step's due times (`Pace.message`)
    duration: float
    seed_offset: int

    @classmethod
    def share(
        cls,
        scenario: Scenario,
        target: ResolvedTarget,
        samples: str,
        *,
        index: int,
        workers: int,
        pace: Pace | None,
        duration: float,
    ) -> WorkerPlan:
        """Worker `index`'s share of the due times (`Pace.share`), and a seed of its own."""
        return cls(
            scenario=scenario.model_dump(mode="json"),
            target=target.public(),
            api_key=target.api_key,
            es_auth=target.es_auth.secrets() if target.es_auth else None,
            samples=samples,
            pace=pace.share(index, workers).message() if pace else None,
            duration=duration,
            seed_offset=index + 1,
        )

    def message(self) -> dict:
        return asdict(self)

    def resolved(self) -> tuple[Scenario, ResolvedTarget]:
        """The scenario, validated again, and the target with its key."""
        scenario = Scenario.model_validate(self.scenario)
        target = {**self.target, "es_auth": EsAuth(**self.es_auth) if self.es_auth else None}
        return scenario, ResolvedTarget(**target, key=self.api_key)
