"""Decoding clips from real video files: sampling, letterbox, short clips, bad files."""

import numpy as np
import pytest

import cv2

from fiftyone_videorec.data.video_files import ffmpeg_convert, moving_square_frames, write_video
from fiftyone_videorec.frames import (DecodeError, count_frames, jpeg_decode_flag, letterbox, read_clip, read_clips,
                                      read_frames, step_for_rate)


def _frames_with_index_brightness(n, size=(48, 32)):
    # frame i is a flat grey of value 10*i: the decoded value tells which frame we got
    return [np.full((size[1], size[0], 3), 10 * i, np.uint8) for i in range(n)]


@pytest.fixture(scope="module", params=["MJPG", "mp4v"])
def counting_video(tmp_path_factory, request):
    # MJPG goes through the JPEG-packet reader, mp4v through FFmpeg's decoder: same sampling rules
    suffix = ".avi" if request.param == "MJPG" else ".mp4"
    return write_video(tmp_path_factory.mktemp("v") / f"count{suffix}", _frames_with_index_brightness(20),
                       fourcc=request.param)


def _frame_ids(clip):
    # centre pixel (inside the letterbox) / 10 -> the source frame index
    return [round(float(f[16, 16].mean()) / 10) for f in clip]


def test_read_clip_samples_every_step_from_start(counting_video):
    clip = read_clip(counting_video, n_frames=4, frame_step=3, image_size=32, start=2)
    assert clip.shape == (4, 32, 32, 3) and clip.dtype == np.uint8
    assert _frame_ids(clip) == [2, 5, 8, 11]


def test_short_video_repeats_last_frame(counting_video):
    assert _frame_ids(read_clip(counting_video, n_frames=5, frame_step=6, image_size=32, start=0)) == [0, 6, 12, 18, 18]


def test_letterbox_keeps_aspect_with_black_padding(counting_video):
    clip = read_clip(counting_video, n_frames=1, frame_step=1, image_size=48, start=5)
    # 48x32 source into 48x48: 8 black rows above and below
    assert clip[0, :8].max() == 0 and clip[0, -8:].max() == 0 and clip[0, 24, 24].mean() > 40


def test_read_clips_evenly_spaced_in_one_pass(counting_video):
    clips = read_clips(counting_video, n_frames=3, frame_step=2, image_size=32, clips=3)
    assert clips.shape == (3, 3, 32, 32, 3)
    assert [_frame_ids(c) for c in clips] == [[0, 2, 4], [8, 10, 12], [15, 17, 19]]
    assert count_frames(counting_video) == 20


def test_one_decode_gives_the_motion_clips_and_the_spread_appearance_frames(counting_video):
    from fiftyone_videorec.frames import frame_positions, read_views

    views = read_views(counting_video, clip_spec=(3, 2, 32, 3, None), frame_spec=(4, 24))
    assert np.array_equal(views.clips, read_clips(counting_video, n_frames=3, frame_step=2, image_size=32, clips=3))
    assert views.frames.shape == (4, 24, 24, 3) and frame_positions(20, 4) == [2, 7, 12, 17]
    assert [round(float(f[12, 12].mean()) / 10) for f in views.frames] == [2, 7, 12, 17]  # centre squares, no bars
    assert read_views(counting_video, frame_spec=(2, 24)).clips is None


def test_clips_span_the_same_seconds_at_any_frame_rate(tmp_path):
    # the same scene at 25 fps and at 12.5 fps (every other frame): grey value 10*i names frame i
    full = write_video(tmp_path / "full.avi", _frames_with_index_brightness(24), fps=25)
    half = write_video(tmp_path / "half.avi", _frames_with_index_brightness(24)[::2], fps=12.5)
    full_ids = _frame_ids(read_clips(full, 3, 4, 32, reference_fps=25)[0])
    half_ids = _frame_ids(read_clips(half, 3, 4, 32, reference_fps=25)[0])  # still names frames of the full video
    assert np.diff(full_ids).tolist() == np.diff(half_ids).tolist() == [4, 4]  # 0.16 s apart in both
    assert abs(full_ids[0] - half_ids[0]) <= 1
    # without a reference rate the step counts frames: the half-rate clip spans twice the time
    assert np.diff(_frame_ids(read_clips(half, 3, 4, 32)[0])).tolist() == [8, 8]
    assert step_for_rate(5, 30.0, 25.0) == 6.0 and step_for_rate(5, 5.0, 25.0) == 1.0
    assert step_for_rate(5, None, 25.0) == step_for_rate(5, 30.0, None) == 5


def test_rgb_order(tmp_path):
    blue_bgr = [np.tile(np.array([255, 0, 0], np.uint8), (32, 32, 1))] * 3
    clip = read_clip(write_video(tmp_path / "b.avi", blue_bgr), n_frames=1, frame_step=1, image_size=32)
    r, g, b = clip[0, 16, 16]
    assert b > 200 and r < 50


@pytest.mark.parametrize("content", [None, b"not a video at all"])
def test_undecodable_file_raises_decode_error_with_path_and_reason(tmp_path, content):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DecodeError) as err:
        read_clip(path, n_frames=4, frame_step=2, image_size=32)
    assert err.value.path == str(path) and err.value.reason
    assert "\n" not in str(err.value)


def _ffmpeg_frames(path, wanted, size):
    """The reference decode: every frame by OpenCV's FFmpeg backend, the ``wanted`` ones letterboxed."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (frame := cap.read()[1]) is not None:
        frames.append(frame)
    cap.release()
    return np.stack([letterbox(frames[i], size) for i in wanted])


def _libjpeg_frames(path, wanted, size):
    """The ``wanted`` raw packets decoded by libjpeg at the DCT scale ``jpeg_decode_flag`` picks, letterboxed;
    None when libjpeg rejects one."""
    cap = cv2.VideoCapture(str(path))
    flag = jpeg_decode_flag(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), size)
    assert cap.set(cv2.CAP_PROP_FORMAT, -1)  # raw packets instead of decoded frames
    packets = []
    while (packet := cap.read()[1]) is not None:
        packets.append(packet)
    cap.release()
    try:
        frames = [cv2.imdecode(packets[i], flag) for i in wanted]
    except cv2.error:
        return None
    return None if any(f is None for f in frames) else np.stack([letterbox(f, size) for f in frames])


def test_motion_jpeg_decodes_only_wanted_packets_close_to_ffmpeg(tmp_path):
    path = write_video(tmp_path / "mjpg.avi", moving_square_frames(30, size=(320, 240), dx=7), fourcc="MJPG")
    wanted = [0, 7, 29]
    frames = read_frames(path, wanted, image_size=32)
    # the product's reader decodes the packets themselves, by libjpeg at 1/4 scale...
    assert np.array_equal(frames, _libjpeg_frames(path, wanted, size=32))
    # ...and gets the picture FFmpeg's full-size decode gives, resampled apart
    reference = _ffmpeg_frames(path, wanted, size=32)
    assert all(np.abs(frames[i].astype(int) - reference[i]).mean() < 4 for i in range(len(wanted)))


def test_jpeg_packet_reader_declines_other_codecs(tmp_path):
    mp4v = write_video(tmp_path / "a.mp4", moving_square_frames(6), fourcc="mp4v")
    h264 = ffmpeg_convert(mp4v, tmp_path / "b.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p")
    for path in (mp4v, h264):  # FFmpeg's decoder, frame for frame
        assert np.array_equal(read_frames(path, [0, 3], image_size=32), _ffmpeg_frames(path, [0, 3], size=32))


@pytest.mark.parametrize("width,height,size,flag", [
    (320, 240, 32, cv2.IMREAD_REDUCED_COLOR_4), (1920, 1080, 32, cv2.IMREAD_REDUCED_COLOR_8),
    (320, 240, 112, cv2.IMREAD_COLOR), (320, 240, 64, cv2.IMREAD_REDUCED_COLOR_2)])
def test_jpeg_scale_keeps_frames_at_least_twice_the_model_input(width, height, size, flag):
    assert jpeg_decode_flag(width, height, size) == flag | cv2.IMREAD_IGNORE_ORIENTATION


def test_motion_jpeg_packets_libjpeg_rejects_fall_back_to_ffmpeg(tmp_path):
    path = write_video(tmp_path / "nosoi.avi", moving_square_frames(6), fourcc="MJPG")
    data = path.read_bytes()
    assert data.count(b"\xff\xd8\xff") == 6  # one JPEG start-of-image marker per frame
    path.write_bytes(data.replace(b"\xff\xd8\xff", b"\x00\x00\x00"))  # FFmpeg tolerates this, libjpeg does not
    assert _libjpeg_frames(path, [0, 3], size=32) is None
    assert np.array_equal(read_frames(path, [0, 3], image_size=32), _ffmpeg_frames(path, [0, 3], size=32))
