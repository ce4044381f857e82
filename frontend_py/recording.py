"""Recording a clip of the booth: the stage as everyone sees it, with everyone's voice.

The clip is not a capture of the on-screen canvas: that one is sized for the screen (half
size on a software GPU, or as `?stage-scale` says), while a clip is always clipformat.SIZE
(1280x720, or 720x960 for a 3:4 stage). So the clip is drawn on a canvas of its own, which
needs its own WebGL2 context, and with it its own StageRenderer and its own texture of each
person's video: a texture belongs to the context that made it. Only the decoded custom
background images are shared with the on-screen renderer, as they are not GL objects.

The voices are mixed in an AudioContext of the recording's own: a source node for our
microphone and one for each participant's stream, all into one MediaStreamAudioDestinationNode
(never to the speakers: the page plays the voices already). Its track and the canvas' captured
track make the MediaRecorder's stream. All of it is made when a clip starts and released when
it ends, so no GL context or AudioContext is held between clips.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import js
from pyodide.ffi import JsException, create_proxy, to_js

from frontend_py import clipformat, webgl, webm
from frontend_py.dom import h, js_object, spawn
from frontend_py.layout import LayerState, Layout, StageState
from frontend_py.stagerenderer import Person, StageRenderer


class RecordingUnavailable(Exception):
    """No clip can be recorded; `key` is the i18n key of the message for the person."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


_Scene = tuple[StageState, tuple[LayerState, ...]]  # what a frame shows besides people


@dataclass
class _Feed:
    """A person's <video> as the clip follows it."""

    person: Person
    callback: Any = None  # the requestVideoFrameCallback proxy
    fresh: bool = True  # a frame arrived since the last upload; at first the one already shown


class _ClipFrames:
    """The stage drawn for the clip whenever a person's video has a new frame or the layout
    changed, at most clipformat.FPS times a second.

    It is drawn into a render target read back without stalling (webgl.PixelReader) and put
    into a 2D canvas, which is what is captured: a captured WebGL canvas is read back by the
    browser synchronously at each change, which on a software GPU blocks the page for tens
    of milliseconds a frame (the page could not even take a click)."""

    def __init__(
        self, canvas: Any, gl: Any, layout: Layout,
        videos: Callable[[], dict[str, Any]], images: dict[str, Any],
    ) -> None:
        self.gl, self.layout, self.videos = gl, layout, videos
        self.width, self.height = int(canvas.width), int(canvas.height)
        self.reader = webgl.PixelReader(webgl.Target(gl, self.width, self.height))
        self.output = canvas.getContext("2d", js_object({"alpha": False}))
        data = self.reader.data
        self.image = js.ImageData.new(js.Uint8ClampedArray.new(data.buffer, data.byteOffset, data.length), self.width, self.height)
        self.planar = webgl.software_renderer(gl)
        self.renderer = StageRenderer(gl, self._redraw)
        self.renderer.images = images
        self.feeds: dict[str, _Feed] = {}
        self.shown: dict[str, Person] = {}  # those with a frame uploaded: an empty texture would draw black
        self.scene: _Scene | None = None
        self.stale = True
        self.busy = False
        self.task: asyncio.Future[None] | None = None
        self.last_draw = -math.inf
        self.frames_drawn = self.frames_skipped = 0
        self.closed = False
        self.track = canvas.captureStream(clipformat.FPS).getVideoTracks()[0]
        self._on_animation_frame = create_proxy(self._animation_frame)
        self.request = js.requestAnimationFrame(self._on_animation_frame)

    def _redraw(self) -> None:
        self.stale = True

    def _animation_frame(self, now: float) -> None:
        self.request = js.requestAnimationFrame(self._on_animation_frame)
        if not clipformat.frame_due(now, self.last_draw):
            return
        if self.busy:
            self.frames_skipped += 1
            return
        self._follow_people()
        fresh = {layer_id: feed for layer_id, feed in self.feeds.items() if feed.fresh}
        scene = (self.layout.stage(), tuple(self.layout.layers()))
        if not fresh and not self.stale and scene == self.scene:
            return  # the canvas keeps its picture; the recorder holds the last frame meanwhile
        for feed in fresh.values():
            feed.fresh = False
        self.last_draw, self.scene, self.stale, self.busy = now, scene, False, True
        self.task = spawn(self._draw(fresh, scene))

    async def _draw(self, fresh: dict[str, _Feed], scene: _Scene) -> None:
        try:
            for layer_id, feed in fresh.items():
                if await feed.person.texture.take(feed.person.source):
                    self.shown[layer_id] = feed.person
            stage, layers = scene
            self.reader.target.bind()
            self.renderer.draw(stage, list(layers), self.width, self.height, self.shown, flip=True)
            self.reader.read()
            await self.reader.pixels()
            self.output.putImageData(self.image, 0, 0)
            self.frames_drawn += 1
        finally:
            self.busy = False

    def _follow_people(self) -> None:
        """Start and stop following people's videos as they come and go (or get a new one).
        Only between draws: a draw in flight may be uploading any of them."""
        videos = self.videos()
        # != on JS objects is JavaScript's !==: the same element, whichever proxy holds it.
        for layer_id, feed in list(self.feeds.items()):
            if videos.get(layer_id) != feed.person.source:
                self._forget(layer_id)
        for layer_id, video in videos.items():
            if layer_id not in self.feeds:
                self._follow(layer_id, video)

    def _follow(self, layer_id: str, video: Any) -> None:
        feed = _Feed(Person(video, webgl.VideoTexture(self.gl, planar=self.planar)))

        def on_frame(*_: Any) -> None:
            feed.fresh = True
            feed.person.pending = video.requestVideoFrameCallback(feed.callback)

        feed.callback = create_proxy(on_frame)
        feed.person.pending = video.requestVideoFrameCallback(feed.callback)
        self.feeds[layer_id] = feed

    def _forget(self, layer_id: str) -> None:
        feed = self.feeds.pop(layer_id)
        self.shown.pop(layer_id, None)
        feed.person.source.cancelVideoFrameCallback(feed.person.pending)
        feed.callback.destroy()
        feed.person.texture.delete()
        self.stale = True

    def close(self) -> None:
        """Stop drawing and capturing, and free the context with everything in it."""
        if self.closed:
            return
        self.closed = True
        js.cancelAnimationFrame(self.request)
        self._on_animation_frame.destroy()
        if self.task is not None:
            self.task.cancel()
        for layer_id in list(self.feeds):
            self._forget(layer_id)
        self.track.stop()
        webgl.lose_context(self.gl)


class _ClipAudio:
    """Everyone's voice as one track: a source node per stream with sound, into one destination."""

    def __init__(self, streams: Callable[[], list[Any]]) -> None:
        self.streams = streams
        self.context = js.AudioContext.new()
        if self.context.state == "suspended":  # made outside a click, autoplay rules may hold it
            self.context.resume()
        self.destination = self.context.createMediaStreamDestination()
        self.track = self.destination.stream.getAudioTracks()[0]
        self.sources: dict[str, Any] = {}
        self.refresh()

    def refresh(self) -> None:
        """Mix what `streams()` gives now: connect streams new here, disconnect those gone."""
        wanted = {}
        for stream in self.streams():
            tracks = [track for track in stream.getAudioTracks() if track.readyState == "live"]
            if tracks:
                # A source node keeps the tracks it was made with: new tracks need a new node.
                wanted[f"{stream.id} {' '.join(sorted(str(track.id) for track in tracks))}"] = stream
        for key in [key for key in self.sources if key not in wanted]:
            self.sources.pop(key).disconnect()
        for key, stream in wanted.items():
            if key in self.sources:
                continue
            try:
                source = self.context.createMediaStreamSource(stream)
            except JsException as exc:  # one voice missing is better than no clip
                js.console.warn(f"clip audio: {exc}")
                continue
            source.connect(self.destination)
            self.sources[key] = source

    def close(self) -> None:
        for source in self.sources.values():
            source.disconnect()
        self.sources.clear()
        self.track.stop()
        self.context.close()


class ClipRecorder:
    """Records clips of the booth, one at a time: `start()`, then `stop()` (or MAX_SECONDS),
    then `on_done(blob, mime, duration_ms, width, height)` gets the clip.

    `videos()` gives each person's <video> (packed stream) by layer id, ourselves included;
    `audio_streams()` the MediaStreams to mix (our microphone's, every participant's);
    `images` is the on-screen StageRenderer's dict of decoded custom backgrounds, shared;
    `on_tick(elapsed_s)` runs every clipformat.TICK_S while recording; `on_error(key)`, when a clip
    ends without anything recorded (the recorder failed)."""

    def __init__(
        self,
        layout: Layout,
        videos: Callable[[], dict[str, Any]],
        audio_streams: Callable[[], list[Any]],
        on_tick: Callable[[float], None],
        on_done: Callable[[Any, str, float, int, int], Awaitable[None] | None],
        images: dict[str, Any] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.layout, self.videos, self.audio_streams = layout, videos, audio_streams
        self.on_tick, self.on_done, self.on_error = on_tick, on_done, on_error
        self.images = {} if images is None else images
        self._recorder: Any = None  # from start() until its stop event
        self._stopping = False
        self._frames: _ClipFrames | None = None  # kept after the clip for its counts
        self._audio: _ClipAudio | None = None
        self._ticker: asyncio.Future[None] | None = None
        self._finishing: set[asyncio.Future[None]] = set()
        self._chunks: list[Any] = []
        self._mime = ""
        self._size = (0, 0)
        self._started: float | None = None  # performance.now() at the clip's start and stop
        self._ended: float | None = None
        self._closed = False
        # Made once, added to each clip's recorder and removed at its stop event.
        self._listeners = {
            "dataavailable": create_proxy(self._on_data),
            "stop": create_proxy(self._on_stop),
            "error": create_proxy(self._on_error),
        }

    @property
    def recording(self) -> bool:
        return self._recorder is not None and not self._stopping

    @property
    def elapsed_s(self) -> float:
        """Seconds recorded of the clip in progress, or of the last one."""
        if self._started is None:
            return 0.0
        end = js.performance.now() if self._ended is None else self._ended
        return (end - self._started) / 1000

    @property
    def frames_drawn(self) -> int:
        """Frames drawn for the clip in progress, or the last one."""
        return self._frames.frames_drawn if self._frames is not None else 0

    @property
    def frames_skipped(self) -> int:
        """Animation frames, due for a draw, that found the previous frame still uploading."""
        return self._frames.frames_skipped if self._frames is not None else 0

    @property
    def fps(self) -> float:
        """Frames drawn a second (a person's camera rate at best: frames are drawn when new)."""
        seconds = self.elapsed_s
        return self.frames_drawn / seconds if seconds > 0 else 0.0

    def start(self) -> None:
        """Start a clip; nothing while one is recorded or being stopped. Raises
        RecordingUnavailable ("clip.unsupported" or "clip.failed")."""
        if self._closed:
            raise RecordingUnavailable("clip.failed")
        if self._recorder is not None:
            return
        mime = _recordable_mime()
        width, height = clipformat.SIZE[self.layout.stage().aspect]
        canvas = h("canvas", {"width": width, "height": height})
        try:
            gl = webgl.context(h("canvas", {"width": 1, "height": 1}), alpha=False)
        except webgl.WebGLUnavailable as exc:
            raise RecordingUnavailable("clip.unsupported") from exc
        frames: _ClipFrames | None = None
        audio: _ClipAudio | None = None
        recorder: Any = None
        try:
            frames = _ClipFrames(canvas, gl, self.layout, self.videos, self.images)
            audio = _ClipAudio(self.audio_streams)
            stream = js.MediaStream.new(to_js([frames.track, audio.track]))
            options = {
                "mimeType": mime,
                "videoBitsPerSecond": clipformat.VIDEO_BITS_PER_SECOND,
                "audioBitsPerSecond": clipformat.AUDIO_BITS_PER_SECOND,
            }
            recorder = js.MediaRecorder.new(stream, js_object(options))
            for event, listener in self._listeners.items():
                recorder.addEventListener(event, listener)
            recorder.start(clipformat.TIMESLICE_MS)
        except Exception as exc:
            if recorder is not None:
                self._unlisten(recorder)
            if frames is not None:
                frames.close()
            else:
                webgl.lose_context(gl)
            if audio is not None:
                audio.close()
            raise RecordingUnavailable("clip.failed") from exc
        self._recorder, self._frames, self._audio = recorder, frames, audio
        self._mime, self._size, self._chunks = mime, (width, height), []
        self._started, self._ended, self._stopping = js.performance.now(), None, False
        self._ticker = spawn(self._tick())

    def stop(self) -> None:
        """End the clip; `on_done` gets it once the recorder has handed everything over."""
        if not self.recording:
            return
        self._stopping = True
        self._ended = js.performance.now()
        if self._recorder.state != "inactive":
            self._recorder.stop()

    def refresh_audio(self) -> None:
        """Mix the voices of who is here now; call when people come or go."""
        if self._audio is not None:
            self._audio.refresh()

    def close(self) -> None:
        """Release everything; a clip being recorded or finished off is dropped."""
        if self._closed:
            return
        self._closed = True
        if self._recorder is not None:
            self._unlisten(self._recorder)
            if self._recorder.state != "inactive":
                self._recorder.stop()
            self._recorder = None
            self._ended = js.performance.now() if self._ended is None else self._ended
        self._release()
        for task in list(self._finishing):
            task.cancel()
        for listener in self._listeners.values():
            listener.destroy()

    async def _tick(self) -> None:
        while self.recording:
            elapsed = min(self.elapsed_s, float(clipformat.MAX_SECONDS))
            try:
                self.on_tick(elapsed)
            except Exception:  # noqa: BLE001 (the room's timer failing must not lift the clip's time limit)
                js.console.error(traceback.format_exc())
            if elapsed >= clipformat.MAX_SECONDS:
                self.stop()
                return
            await asyncio.sleep(min(clipformat.TICK_S, clipformat.MAX_SECONDS - elapsed))

    def _on_data(self, event: Any) -> None:
        if int(event.data.size):
            self._chunks.append(event.data)

    def _on_error(self, event: Any) -> None:
        # The recorder stops by itself after an error; _on_stop keeps what it had recorded.
        js.console.error(f"clip recorder: {getattr(event, 'error', event)}")

    def _on_stop(self, _: Any) -> None:
        recorder, chunks = self._recorder, self._chunks
        if self._ended is None:  # stopped by the browser, not by stop()
            self._ended = js.performance.now()
        duration_ms = self._ended - self._started
        mime = str(recorder.mimeType) or self._mime
        self._unlisten(recorder)
        self._recorder, self._chunks, self._stopping = None, [], False
        self._release()
        if not chunks:
            if self.on_error is not None:
                self.on_error("clip.failed")
            return
        task = spawn(self._finish(chunks, mime, duration_ms, *self._size))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(
        self, chunks: list[Any], mime: str, duration_ms: float, width: int, height: int
    ) -> None:
        blob = js.Blob.new(to_js(chunks), js_object({"type": mime}))
        if clipformat.needs_duration_fix(mime):
            blob, duration_ms = await _seekable(blob, mime, duration_ms)
        done = self.on_done(blob, mime, duration_ms, width, height)
        if inspect.isawaitable(done):
            await done

    def _release(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._frames is not None:
            self._frames.close()
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    def _unlisten(self, recorder: Any) -> None:
        for event, listener in self._listeners.items():
            recorder.removeEventListener(event, listener)


def _recordable_mime() -> str:
    """The type to record, or RecordingUnavailable("clip.unsupported") when nothing can be."""
    apis = all(hasattr(js, name) for name in ("MediaRecorder", "MediaStream", "AudioContext"))
    if not apis or not hasattr(js.HTMLCanvasElement.prototype, "captureStream"):
        raise RecordingUnavailable("clip.unsupported")
    mime = clipformat.choose(lambda candidate: bool(js.MediaRecorder.isTypeSupported(candidate)))
    if mime is None:
        raise RecordingUnavailable("clip.unsupported")
    return mime


async def _seekable(blob: Any, mime: str, measured_ms: float) -> tuple[Any, float]:
    """The WebM with its duration and cues written in, and that duration."""
    data = js.Uint8Array.new(await blob.arrayBuffer()).to_bytes()
    try:
        data = webm.make_seekable(data)
    except Exception as exc:  # noqa: BLE001 (a clip players can't seek in is still better than none)
        js.console.warn(f"clip left as recorded: {exc}")
        return blob, measured_ms
    return js.Blob.new(to_js([to_js(data)]), js_object({"type": mime})), webm.duration_ms(data) or measured_ms

