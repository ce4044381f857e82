"""Drawing the shared stage: the background, everyone's cut-out and the stickers, in one pass.

The same renderer draws the stage on screen (stage.py, at the canvas' size) and the photos
(capture.py, offscreen at the photo's size), so a photo looks exactly like the stage. People
are drawn straight from their packed video (colour over alpha, docs/media.md), or, in a photo,
from their full-resolution still, a premultiplied picture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import js

from frontend_py import backgrounds, transform, webgl
from frontend_py.cutout import UNPACK_GLSL
from frontend_py.diagnostics import diagnostic_number
from frontend_py.dom import spawn
from frontend_py.layout import STAGE, LayerState, StageState
from frontend_py.overlays import BY_NAME

# Without a hardware GPU (SwiftShader, llvmpipe) the browser rasterises on the CPU cores the
# camera pipeline and the calls need too: the stage then renders at half size (a quarter of
# the pixels). `?stage-scale=1` forces full size (bench/stage.py measures that; diagnostics only).
SOFTWARE_SCALE = 0.5
DEFAULT_PERSON_ASPECT = 4 / 3
BACKGROUNDS_KEPT = 2  # painted backgrounds cached: the screen's size and the photo's

LAYER_VERTEX = """#version 300 es
in vec2 corner;
out vec2 uv;
uniform mat3 to_clip;  // the layer's unit quad about the origin -> clip space
void main() {
  uv = corner;
  gl_Position = vec4((to_clip * vec3(corner - 0.5, 1.0)).xy, 0.0, 1.0);
}
"""

LAYER_FRAGMENT = f"""#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D content;  // PACKED: a person's packed video, else a premultiplied picture
uniform float half_texel;
uniform float opacity;
uniform vec4 crop;        // uv offset and size of the part of the picture shown (cover fit)
out vec4 colour;
{UNPACK_GLSL}
void main() {{
  vec2 at = crop.xy + uv * crop.zw;
#ifdef PACKED
  colour = unpack(content, at, half_texel) * opacity;
#else
  colour = texture(content, at) * opacity;
#endif
}}
"""


def resolution_scale(gl: Any) -> float:
    forced = diagnostic_number("stage-scale")
    if forced:
        return min(1.0, max(0.25, forced))
    return SOFTWARE_SCALE if webgl.software_renderer(gl) else 1.0


@dataclass
class Person:
    """A person's packed frames: a <video> of their stream, uploaded as each frame arrives, or
    for ourselves the pipeline's frames as bytes (no decode, and no canvas-to-canvas copy)."""

    source: Any  # their <video>; None for ourselves
    texture: Any  # webgl.VideoTexture for a video, webgl.Texture for our own frames
    own_size: tuple[int, int] = (0, 0)
    uploading: bool = False
    pending: Any = None

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the packed frame (twice the picture's height)."""
        if self.source is None:
            return self.own_size
        return int(self.source.videoWidth), int(self.source.videoHeight)

    @property
    def aspect(self) -> float:
        width, packed_height = self.size
        return width / (packed_height // 2) if width and packed_height >= 2 else DEFAULT_PERSON_ASPECT

    @property
    def planar(self) -> bool:
        return isinstance(self.texture, webgl.VideoTexture) and self.texture.planar

    def bind(self) -> dict[str, Any]:
        """Bind to unit 0 (and 1, 2 for a frame's chroma planes); the uniforms that go with it."""
        if isinstance(self.texture, webgl.VideoTexture):
            return self.texture.bind(0, 1, 2)
        self.texture.bind(0)
        return {}


@dataclass
class Picture:
    """A premultiplied picture: a background, a sticker, or a person's still in a photo."""

    texture: webgl.Texture
    aspect: float


def picture(gl: Any, source: Any, width: int, height: int) -> Picture:
    """A picture of an image with straight alpha (an ImageBitmap, a canvas), premultiplied on upload."""
    texture = webgl.Texture(gl)
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, True)
    texture.upload(source, width, height)
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, False)
    return Picture(texture, width / height)


class StageRenderer:
    """Draws a stage state into whatever framebuffer is bound. `on_ready` is called when
    something it was waiting for (a sticker's art) has arrived and a redraw would show it."""

    def __init__(self, gl: Any, on_ready: Callable[[], None]) -> None:
        self.gl, self.on_ready = gl, on_ready
        self._make_programs()
        self.people: dict[str, Person] = {}
        self.stickers: dict[str, Picture] = {}
        self.loading: set[str] = set()
        self.images: dict[str, Any] = {}  # custom backgrounds by id, decoded (ImageBitmap)
        self.backgrounds: dict[str, Picture] = {}  # painted, by name and size

    def _make_programs(self) -> None:
        self.quad = webgl.unit_quad(self.gl)
        # Pictures, people as RGB frames and people as planar ones (webgl.VideoTexture): a
        # program each, as a software GPU would run every branch of one program for each pixel.
        self.picture_program = webgl.Program(self.gl, LAYER_FRAGMENT, LAYER_VERTEX)
        self.person_programs = {
            planar: webgl.Program(self.gl, LAYER_FRAGMENT, LAYER_VERTEX, ("PACKED", "PLANAR") if planar else ("PACKED",))
            for planar in (False, True)
        }

    def restore(self) -> None:
        """Make everything again in a GPU context that was lost and has come back empty (a
        driver reset, too many contexts): programs, people's textures, painted backgrounds;
        stickers load again when drawn. The renderer stays the same object, so the photos and
        clips that hold it draw on the restored context too."""
        self._make_programs()
        self.backgrounds.clear()
        self.stickers.clear()
        for person in self.people.values():
            if isinstance(person.texture, webgl.VideoTexture):
                person.texture = webgl.VideoTexture(self.gl, planar=person.texture.may_be_planar)
            else:
                person.texture = webgl.Texture(self.gl)
                person.texture.width, person.texture.height = person.own_size

    def warm_up(self, width: int, height: int, software: bool) -> None:
        """Draw the default stage at width x height with a person of each kind (our own frames,
        a friend's video) into the bound framebuffer. A software GPU compiles a program for
        what it is drawn with at its first draw, 15-60 ms of the page's thread each here
        (SwiftShader); done before the booth, that is not spent while the links to friends
        are made. The default background, painted at this size, is kept for the stage."""
        own = Person(None, webgl.Texture(self.gl), own_size=(2, 4))
        own.texture.upload_pixels(js.Uint8Array.new(2 * 4 * 4), 2, 4)
        friend = Person(None, webgl.VideoTexture(self.gl, planar=software), own_size=(2, 4))
        friend.texture.blank(2, 4)
        layers = [LayerState("own", "person", z=1.0), LayerState("friend", "person", z=2.0)]
        self.draw(StageState(), layers, width, height, {"own": own, "friend": friend})
        own.texture.delete()
        friend.texture.delete()

    def aspect(self, layer: LayerState, people: Mapping[str, Person | Picture] | None = None) -> float:
        """Width over height of what the layer shows."""
        if layer.kind == "sticker":
            art = self.stickers.get(layer.sticker)
            return art.aspect if art else 1.0
        person = (people if people is not None else self.people).get(layer.id)
        return person.aspect if person else DEFAULT_PERSON_ASPECT

    def draw(
        self, stage: StageState, layers: list[LayerState], width: int, height: int,
        people: Mapping[str, Person | Picture] | None = None, flip: bool = False,
    ) -> None:
        """The stage at width x height into the bound framebuffer. People come from `people`
        (by default everyone's live video); `flip` draws upside down, for a render target
        read back top row first."""
        gl = self.gl
        people = self.people if people is None else people
        gl.clearColor(0.17, 0.15, 0.22, 1)
        gl.clear(gl.COLOR_BUFFER_BIT)
        background = self._background(stage.background, width, height)
        if background is not None:  # opaque: no blending (a software GPU pays per pixel)
            full = LayerState(STAGE, "stage", x=0.5, y=0.5, scale=1.0)
            self._draw_picture(background, full, width / height, width, height, flip, cover=True)
        gl.enable(gl.BLEND)
        gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA)
        for layer in layers:
            if layer.kind == "person":
                person = people.get(layer.id)
                if isinstance(person, Picture):
                    self._draw_picture(person, layer, person.aspect, width, height, flip)
                elif person is not None and person.size[0]:
                    self.person_programs[person.planar].use(
                        **person.bind(),
                        content=0,
                        half_texel=0.5 / max(1, person.size[1]),
                        opacity=layer.opacity,
                        crop=(0.0, 0.0, 1.0, 1.0),
                        to_clip=self._to_clip(layer, person.aspect, width, height, flip),
                    )
                    webgl.draw_quad(gl)
            else:
                art = self._sticker(layer.sticker)
                if art is not None:
                    self._draw_picture(art, layer, art.aspect, width, height, flip)
        gl.disable(gl.BLEND)

    @staticmethod
    def _to_clip(layer: LayerState, aspect: float, width: int, height: int, flip: bool) -> list[float]:
        matrix = transform.clip_matrix(layer, aspect, width, height)
        # Column-major: negating each column's y row mirrors the result vertically.
        return [value * (-1 if flip and index % 3 == 1 else 1) for index, value in enumerate(matrix)]

    def _draw_picture(
        self, art: Picture, layer: LayerState, aspect: float, width: int, height: int, flip: bool, cover: bool = False
    ) -> None:
        crop = (0.0, 0.0, 1.0, 1.0)
        if cover:  # fill the layer, cutting what sticks out of the picture's longer side
            ratio = art.aspect / aspect
            crop = ((1 - 1 / ratio) / 2, 0.0, 1 / ratio, 1.0) if ratio > 1 else (0.0, (1 - ratio) / 2, 1.0, ratio)
        art.texture.bind(0)
        self.picture_program.use(
            content=0, half_texel=0.0, opacity=layer.opacity, crop=crop,
            to_clip=self._to_clip(layer, aspect, width, height, flip),
        )
        webgl.draw_quad(self.gl)

    def _background(self, name: str, width: int, height: int) -> Picture | None:
        key = f"{name}@{width}x{height}"
        if key in self.backgrounds:
            return self.backgrounds[key]
        if name in backgrounds.PRESETS:
            source, aspect = backgrounds.paint(name, width, height), width / height
        elif name in self.images:
            bitmap = self.images[name]
            source, aspect = bitmap, int(bitmap.width) / int(bitmap.height)
        else:  # a custom image still on its way: the last one drawn at this size meanwhile
            return next((art for k, art in reversed(self.backgrounds.items()) if k.endswith(f"@{width}x{height}")), None)
        while len(self.backgrounds) >= BACKGROUNDS_KEPT:
            self.backgrounds.pop(next(iter(self.backgrounds))).texture.delete()
        art = self.backgrounds[key] = Picture(webgl.Texture(self.gl), aspect)
        art.texture.upload(source, width, height)
        return art

    def add_image(self, image: str, bitmap: Any) -> None:
        self.images[image] = bitmap
        for key in [key for key in self.backgrounds if key.startswith(f"{image}@")]:
            self.backgrounds.pop(key).texture.delete()

    def _sticker(self, name: str) -> Picture | None:
        if name in self.stickers:
            return self.stickers[name]
        if name in BY_NAME and name not in self.loading:
            self.loading.add(name)
            spawn(self._load_sticker(name))
        return None

    async def _load_sticker(self, name: str) -> None:
        try:
            texture, (_, _, box_width, box_height) = await webgl.overlay_art(self.gl, name)
        except Exception as exc:  # noqa: BLE001 (a sticker that will not load is left out, the stage goes on)
            js.console.warn(f"sticker {name}: {exc}")
            return
        replaced = self.stickers.get(name)
        self.stickers[name] = Picture(texture, box_width / box_height)
        if replaced is not None:
            replaced.texture.delete()
        self.on_ready()

    async def stickers_ready(self, layers: list[LayerState]) -> None:
        """Load every sticker among `layers` not drawn yet: a photo must not miss one."""
        for name in sorted({layer.sticker for layer in layers if layer.kind == "sticker" and layer.sticker in BY_NAME} - set(self.stickers)):
            await self._load_sticker(name)
