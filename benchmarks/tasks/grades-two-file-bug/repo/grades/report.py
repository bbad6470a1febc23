"""The per-course report teachers download."""

from grades.stats import mean, median


def course_report(course: str, scores: dict[str, float]) -> dict[str, object]:
    """Scores by student, in the order they were entered; the summary must not depend on that order."""
    values = list(scores.values())
    return {
        "course": course,
        "students": len(values),
        "mean": round(mean(values), 1),
        "median": median(values),
        "top": max(scores, key=lambda student: scores[student]),
    }
