"""The camera agent's typed settings: ``[agent]`` in the TOML file, ``ATTENDANCE_AGENT_*`` variables, CLI flags.

The recognition fields (embedder, detector, runtime, operating point, quality gates, liveness) are the core's
``RecognitionConfig``, embedded here with the defaults of video frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from attendance.recognition_config import RecognitionConfig, setting, with_default

AGENT_ENV_PREFIX = "ATTENDANCE_AGENT_"
AGENT_TOML_TABLE = "agent"


@dataclass(frozen=True)
class AgentSettings(RecognitionConfig):
    """Everything one gate agent can be configured with (one agent per camera): the recognition fields first."""

    # Former names still read (with a warning): `backend` is the core's `face_backend` since the shared config.
    RENAMED_SETTINGS: ClassVar[Mapping[str, str]] = {"backend": "face_backend"}

    # Video frames: HOG without upsampling (4x faster), smaller and softer faces than an enrollment photo.
    detect_upsample: int = with_default(RecognitionConfig, "detect_upsample", 0)
    min_face_px: int = with_default(RecognitionConfig, "min_face_px", 60)
    min_sharpness: float = with_default(RecognitionConfig, "min_sharpness", 0.0)
    max_yaw_deg: float = with_default(RecognitionConfig, "max_yaw_deg", 45.0)

    source: str = setting("0", "What to watch: a USB camera index (`0`), an RTSP/HTTP URL, a video file or a "
                          "folder of images.")
    server_url: str = setting("http://127.0.0.1:8000", "Base URL of the dashboard (the agent talks to "
                              "`/api/v1/...` under it).")
    token: str = setting("", "This camera's bearer token (`cam_...`), made with `attendance cameras add`.")
    camera_name: str = setting("gate", "A name for this camera in logs and the preview.")
    instance_path: str = setting("instance", "Instance folder whose `models/` holds the models installed on this PC "
                                 "(`attendance models download`, `attendance models convert-dlib`).")
    scale: float = setting(1.0, "Processing scale: frames are shrunk by this factor before detection. HOG "
                           "(upsample 0) finds faces from about 70 px, so use 1.0 for 640x360 and 0.5 for 1280x720.",
                           low=0.05, high=4.0)
    detect_every_frames: int = setting(4, "Scan the whole frame for new faces every N frames; in between, "
                                       "only the regions around known tracks are searched (much cheaper).",
                                       low=1, high=1000)
    fps: float = setting(0.0, "Process at most this many frames per second (0: every frame of a file, "
                         "as fast as possible for a live camera).", low=0.0, high=240.0)
    embed_every_frames: int = setting(6, "At most one embedding per track every N processed frames.", low=1, high=1000)
    max_embeddings_per_track: int = setting(20, "Stop embedding a track after this many embeddings.",
                                            low=1, high=10_000)
    min_votes: int = setting(2, "Matching embeddings needed before a track is named.", low=1, high=1000)
    min_vote_share: float = setting(0.6, "Share of the track's named-vote weight the winner needs (0.5-1).",
                                    low=0.5, high=1.0)
    min_embeddings_for_unknown: int = setting(3, "A track that ends unnamed is reported as unknown only "
                                              "after this many embeddings.", low=1, high=1000)
    give_up_margin: float = setting(0.2, "An unnamed track stops being embedded after 3 embeddings all farther "
                                    "than threshold + this from every student (a stranger: save the CPU).",
                                    low=0.0, high=4.0)
    track_min_iou: float = setting(0.3, "Smallest overlap (IoU) for a detection to continue a track.",
                                   low=0.0, high=1.0)
    track_max_missed_frames: int = setting(10, "A track ends after this many processed frames without its face.",
                                           low=1, high=100_000)
    qr_every_frames: int = setting(3, "Look for a student's QR card every N processed frames (0: never); the "
                                   "card is a way in for students without a face template.", low=0, high=1000)
    qr_scale: float = setting(1.0, "Scale of the grey copy QR cards are read from (0.1-1; 0.5 reads a card "
                              "held up close in a 1280x720 frame at a quarter of the cost).", low=0.1, high=1.0)
    outbox: str = setting("agent-data/outbox.sqlite3", "The local SQLite outbox; the gallery copy is kept "
                          "next to it.")
    snapshots: bool = setting(True, "Send a small JPEG crop of the face with each event.")
    snapshot_max_px: int = setting(160, "Longest side of a snapshot crop, in pixels.", low=16, high=4096)
    timezone: str = setting("Asia/Ho_Chi_Minh", "The school's time zone until the dashboard first sends it "
                            "(with the gallery): the school's own, set on the dashboard, decides the school day.")
    batch_size: int = setting(100, "Events per POST (the API takes up to 500).", low=1, high=500)
    request_timeout_s: float = setting(10.0, "Timeout of one HTTP request to the dashboard.", low=0.1, high=600.0)
    retry_max_s: float = setting(60.0, "Longest wait between delivery retries.", low=0.1, high=86_400.0)
    deliver_timeout_s: float = setting(60.0, "With --once: how long to keep retrying delivery before giving up.",
                                       low=0.0, high=86_400.0)
    gallery_poll_s: float = setting(60.0, "How often to ask the dashboard for a new gallery.", low=1.0, high=86_400.0)
    heartbeat_s: float = setting(30.0, "How often to report health to the dashboard.", low=1.0, high=86_400.0)
    open_timeout_s: float = setting(10.0, "Timeout of opening a network camera.", low=0.1, high=600.0)
    read_timeout_s: float = setting(5.0, "A live camera that gives no frame for this long is reconnected.",
                                    low=0.1, high=600.0)
    reconnect_max_s: float = setting(30.0, "Longest wait between camera reconnect attempts.", low=0.1, high=86_400.0)
    folder_interval_s: float = setting(0.5, "Time between images of a folder source (their frame timestamps).",
                                       low=0.001, high=3600.0)
    start_at: str = setting("", "For files and folders: the time of the first frame (ISO 8601 with zone); "
                            "empty means now.")
    preview_port: int = setting(0, "Serve a live preview with boxes and names on 127.0.0.1:PORT (0: off).",
                                low=0, high=65_535)
    debug_dir: str = setting("", "Save the frames where decisions were made here (privacy: only for setup).")
    keep_days: int = setting(7, "Days of the local 'already checked in' record to keep.", low=1, high=3650)
    log_level: str = setting("INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))

    @property
    def outbox_path(self) -> Path:
        return Path(self.outbox)

    @property
    def gallery_cache_path(self) -> Path:
        return self.outbox_path.with_name(f"gallery-{self.outbox_path.stem}.json")
