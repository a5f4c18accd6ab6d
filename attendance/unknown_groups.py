"""Repeated sightings of one unknown face, grouped for the admin who reviews them.

Unknown faces carry no embedding (the server stores none for strangers), only the camera, the time, the
distance to the gallery and the student the agent found nearest. Sightings are one group when they come
from the same camera on the same school day, with the same nearest student (or none), each within
``window_s`` of the previous one: a child walking past the gate twice, or lingering, is one card, not five.
A sighting refused as a suspected photo is never grouped (it is reviewed on its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from attendance.db.models import UnknownFace

DEFAULT_WINDOW_S = 600.0  # typical: a morning's arrivals at one gate; two strangers with the same nearest
                          # student at one gate within 10 minutes are rare, and the card shows every photo


@dataclass
class SightingGroup:
    """Sightings of one face, oldest first; ``best`` is the one nearest to the gallery (its photo is enrolled
    when the group is named)."""

    sightings: list[UnknownFace] = field(default_factory=list)

    @property
    def best(self) -> UnknownFace:
        return min(self.sightings, key=lambda u: (u.best_distance if u.best_distance is not None else 99.0,
                                                  u.captured_at))

    @property
    def first(self) -> UnknownFace:
        return self.sightings[0]

    @property
    def last(self) -> UnknownFace:
        return self.sightings[-1]

    @property
    def others(self) -> list[UnknownFace]:
        best = self.best
        return [u for u in self.sightings if u is not best]


def group_sightings(faces: list[UnknownFace], window_s: float = DEFAULT_WINDOW_S) -> list[SightingGroup]:
    """Group ``faces`` (any order) into sightings of one face; the groups come newest last sighting first."""
    groups: list[SightingGroup] = []
    open_groups: dict[tuple, SightingGroup] = {}
    for face in sorted(faces, key=lambda u: (u.captured_at, u.id)):
        if face.flag:
            groups.append(SightingGroup([face]))
            continue
        key = (face.camera_id, face.school_date, face.nearest_student_id)
        group = open_groups.get(key)
        if group is not None and (face.captured_at - group.last.captured_at).total_seconds() <= window_s:
            group.sightings.append(face)
            continue
        group = SightingGroup([face])
        open_groups[key] = group
        groups.append(group)
    groups.sort(key=lambda g: (g.last.captured_at, g.last.id), reverse=True)
    return groups
