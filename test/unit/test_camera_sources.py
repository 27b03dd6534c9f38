"""Specification of the camera frame sources: every kind yields rgb8 frames through one interface."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from egoscale_ros.camera.factory import create_source, open_source
from egoscale_ros.camera.image_ops import JPEG_FORMAT, decode_jpeg, encode_jpeg, output_size
from egoscale_ros.camera.source import CameraError
from egoscale_ros.camera.spec import parse_spec
from egoscale_ros.camera.synthetic import object_position, read_frame_code, render_synthetic_frame

W, H = 64, 48


def solid(value: int, color_bgr=(0, 0, 255)) -> np.ndarray:
    """A BGR frame whose colour encodes ``value`` in the green channel (robust to video coding)."""
    img = np.zeros((H, W, 3), np.uint8)
    img[:] = color_bgr
    img[..., 1] = value
    return img


@pytest.fixture()
def video_file(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (W, H))
    assert writer.isOpened(), "OpenCV cannot write MJPG/AVI here"
    for i in range(5):
        writer.write(solid(40 * i))
    writer.release()
    return path


@pytest.fixture()
def image_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    # Written out of order, and frame_10 must sort after frame_2 (natural order).
    for i in (10, 2, 1):
        cv2.imwrite(str(folder / f"frame_{i}.png"), solid(i * 20))
    (folder / "notes.txt").write_text("not an image")
    return folder


def green(frame: np.ndarray) -> int:
    return int(round(float(frame[..., 1].mean())))


# -- spec parsing ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("spec", "kind", "target"),
    [
        (0, "v4l2", 0),
        ("2", "v4l2", 2),
        ("v4l2:1", "v4l2", 1),
        ("v4l2:/dev/video3", "v4l2", "/dev/video3"),
        ("/dev/video0", "v4l2", "/dev/video0"),
        ("file:clips/a.bin", "file", "clips/a.bin"),
        ("clips/a.MP4", "file", "clips/a.MP4"),
        ("folder:frames", "folder", "frames"),
        ("rtsp://cam.local:554/stream?profile=1", "stream", "rtsp://cam.local:554/stream?profile=1"),
        ("http://10.0.0.2/video.mjpg", "stream", "http://10.0.0.2/video.mjpg"),
        ("gst:videotestsrc ! videoconvert ! appsink", "gstreamer", "videotestsrc ! videoconvert ! appsink"),
        ("synthetic", "synthetic", "synthetic"),
    ],
)
def test_spec_forms_are_classified(spec, kind, target):
    parsed = parse_spec(spec)
    assert (parsed.kind, parsed.target) == (kind, target)


def test_spec_loop_option_and_unknown_forms():
    assert parse_spec("file:a.mp4?loop=true").loop is True
    assert parse_spec("folder:x?loop=0").loop is False
    assert parse_spec("file:a.mp4").loop is None
    with pytest.raises(ValueError, match="unknown option 'speed'"):
        parse_spec("file:a.mp4?speed=2")
    with pytest.raises(ValueError, match="'webcam please' is not recognised"):
        parse_spec("webcam please")
    with pytest.raises(ValueError, match="empty"):
        parse_spec("  ")


def test_an_existing_directory_is_a_folder_source(image_folder):
    assert parse_spec(str(image_folder)).kind == "folder"


# -- video file -------------------------------------------------------------------------------

def test_video_file_frames_in_order_then_finished(video_file):
    source = open_source(f"file:{video_file}")
    values = []
    while (frame := source.read()) is not None:
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
        values.append(green(frame))
    assert len(values) == 5
    assert values == sorted(values) and abs(values[0] - 0) <= 4 and abs(values[-1] - 160) <= 4
    assert source.finished and source.read() is None
    assert "finished" in source.describe()
    source.close()


def test_video_file_frames_are_rgb_not_bgr(video_file):
    frame = open_source(video_file).read()  # BGR (0, g, 255) on disk = red in RGB
    assert frame[..., 0].mean() > 200 and frame[..., 2].mean() < 50


def test_video_file_loops_when_asked(video_file):
    source = open_source(f"file:{video_file}?loop=true")
    values = [green(source.read()) for _ in range(12)]
    assert values[5] == values[0] and values[10] == values[0]
    assert not source.finished and source.loops_completed == 2


def test_video_file_reopen_starts_again(video_file):
    source = open_source(video_file)
    first = green(source.read())
    source.read()
    source.open()  # reopen
    assert green(source.read()) == first


def test_resize_to_requested_size_and_single_side_keeps_aspect(video_file):
    assert open_source(video_file, width=32, height=20).read().shape == (20, 32, 3)
    assert open_source(video_file, width=32).read().shape == (24, 32, 3)
    assert output_size(640, 480, None, 240) == (320, 240)


# -- image folder -----------------------------------------------------------------------------

def test_folder_natural_order_and_loop(image_folder):
    source = open_source(f"folder:{image_folder}")
    assert [green(source.read()) for _ in range(7)] == [20, 40, 200, 20, 40, 200, 20]
    assert source.loops_completed == 2


def test_folder_without_loop_finishes(image_folder):
    source = open_source(f"folder:{image_folder}", loop=False)
    assert [green(source.read()) for _ in range(3)] == [20, 40, 200]
    assert source.read() is None and source.finished


def test_folder_skips_unreadable_images(image_folder):
    (image_folder / "frame_5.png").write_bytes(b"garbage")
    source = open_source(image_folder, loop=False)
    values = []
    while (frame := source.read()) is not None:
        values.append(green(frame))
    assert values == [20, 40, 200]
    assert source.unreadable == 1


# -- failing open -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("file:does/not/exist.mp4", "video file not found"),
        ("folder:does/not/exist", "folder not found"),
        ("v4l2:/dev/video_no_such_device", "no such device"),
        ("v4l2:63", "cannot open the V4L2 device"),
    ],
)
def test_unopenable_source_raises_naming_it(spec, needle):
    with pytest.raises(CameraError, match=needle) as err:
        open_source(spec)
    name = spec.split(":", 1)[1]
    assert name in str(err.value)


def test_undecodable_video_and_empty_folder_raise(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(CameraError, match="broken.mp4"):
        open_source(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CameraError, match="no images"):
        open_source(f"folder:{empty}")


def test_an_http_stream_is_read_through_opencv(video_file):
    """A local HTTP server streams the clip: the stream source reads it; its end is a fault
    (read fails, not ``finished``), so a supervisor would reopen it."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(video_file.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = open_source(f"http://127.0.0.1:{server.server_address[1]}/{video_file.name}")
        assert source.kind == "stream"
        values = []
        while (frame := source.read()) is not None:
            values.append(green(frame))
        assert len(values) == 5 and values == sorted(values)
        assert not source.finished
        source.close()
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_stream_raises_naming_it():
    source = create_source("rtsp://127.0.0.1:9/none")
    source.open_timeout_s = 1.0
    with pytest.raises(CameraError, match="rtsp://127.0.0.1:9/none"):
        source.open()


def test_gstreamer_pipeline_without_backend_says_so():
    from egoscale_ros.camera.capture import gstreamer_available

    if gstreamer_available():
        pytest.skip("this OpenCV has GStreamer: the missing-backend message cannot be shown")
    with pytest.raises(CameraError, match="no GStreamer backend"):
        open_source("gst:videotestsrc ! appsink")


def test_invalid_size_is_refused():
    with pytest.raises(ValueError, match="width must be positive"):
        create_source("synthetic", width=0)


# -- synthetic scene --------------------------------------------------------------------------

def test_synthetic_frame_is_a_pure_function_of_index_and_size():
    a = render_synthetic_frame(17, 320, 240)
    render_synthetic_frame(3, 320, 240)
    render_synthetic_frame(17, 64, 48)
    assert np.array_equal(a, render_synthetic_frame(17, 320, 240))
    assert a.shape == (240, 320, 3) and a.dtype == np.uint8


def test_synthetic_source_is_reproducible_and_moves():
    one, two = open_source("synthetic", 160, 120), open_source("synthetic", 160, 120)
    frames = [one.read() for _ in range(10)]
    assert all(np.array_equal(f, two.read()) for f in frames)
    assert not np.array_equal(frames[0], frames[9])  # the object moved
    # The moving block is red where object_position says it is.
    x, y = object_position(9, 160, 120)
    r, g, b = frames[9][int(y) - 3, int(x)].astype(int)
    assert r > 150 and g < 80 and b < 80


def test_synthetic_frame_code_survives_jpeg_and_resize():
    for n in (0, 1, 300, 65535):
        frame = render_synthetic_frame(n, 640, 480)
        assert read_frame_code(frame) == n
        assert read_frame_code(decode_jpeg(encode_jpeg(frame, quality=75))) == n
    small = cv2.resize(render_synthetic_frame(1234, 640, 480), (320, 240), interpolation=cv2.INTER_AREA)
    assert read_frame_code(small) == 1234


def test_synthetic_default_size_and_reopen_restarts():
    source = open_source("synthetic")
    first = source.read()
    assert first.shape == (480, 640, 3)
    source.read()
    source.open()
    assert np.array_equal(source.read(), first)


# -- JPEG helper ------------------------------------------------------------------------------

def test_jpeg_round_trip_keeps_content_and_rejects_bad_input():
    frame = render_synthetic_frame(5, 128, 96)
    data = encode_jpeg(frame, quality=95)
    assert data[:2] == b"\xff\xd8" and "jpeg" in JPEG_FORMAT
    back = decode_jpeg(data)
    assert back.shape == frame.shape
    assert np.abs(back.astype(int) - frame.astype(int)).mean() < 4.0
    with pytest.raises(ValueError, match="rgb8"):
        encode_jpeg(frame[..., 0])
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(frame, quality=0)


def test_capture_time_is_taken_when_the_source_hands_the_frame_over_not_after_resizing(monkeypatch):
    """Ordering, not timing: the stamp precedes the resize, so resizing never ages the scene."""
    import time

    from egoscale_ros.camera import source as source_module
    from egoscale_ros.camera.reconnect import SupervisedSource
    from egoscale_ros.camera.source import FrameSource

    events: list[tuple[str, int]] = []

    class Raw(FrameSource):
        kind = "raw"

        def _open(self) -> None: ...

        def _close(self) -> None: ...

        def _read_raw(self):
            return np.zeros((480, 640, 3), np.uint8)

    real_resize = source_module.resize_rgb

    def resize(frame, width, height):
        events.append(("resize", time.time_ns()))
        return real_resize(frame, width, height)

    monkeypatch.setattr(source_module, "resize_rgb", resize)
    src = SupervisedSource(Raw("raw", width=320, height=240))
    src.open()
    before = time.time_ns()
    frame = src.read()
    assert frame.shape == (240, 320, 3)
    assert before <= src.captured_ns <= events[0][1]
