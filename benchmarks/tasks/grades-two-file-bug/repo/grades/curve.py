"""Grade curving: shift every score so the class median lands on a target."""

from grades.stats import median


def curve_to_median(scores: dict[str, float], target: float = 75.0) -> dict[str, float]:
    shift = target - median(list(scores.values()))
    return {student: min(100.0, round(score + shift, 1)) for student, score in scores.items()}
