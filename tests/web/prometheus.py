"""Reading /metrics as Prometheus does: the text format parsed into families and samples."""

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Scrape:
    """One scrape: family name -> type, and every sample's value by name and labels."""

    families: dict[str, str]
    samples: dict[tuple[str, Labels], float]

    def value(self, name: str, **labels: str) -> float:
        """A sample's value; 0 when absent (a labelled series exists only once counted)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def label_values(self) -> set[str]:
        """Every label value of every sample."""
        return {value for _, labels in self.samples for _, value in labels}

    def labels_of(self, name: str) -> list[dict[str, str]]:
        """The label sets of the samples named `name`."""
        return [dict(labels) for sample, labels in self.samples if sample == name]


def scrape(http: httpx.Client) -> Scrape:
    """GET /metrics and parse it."""
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families: dict[str, str] = {}
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(response.text):
        families[family.name] = family.type
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return Scrape(families, samples)


def increase(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    """How much a sample grew between two scrapes (counters are process-wide in tests)."""
    return after.value(name, **labels) - before.value(name, **labels)
