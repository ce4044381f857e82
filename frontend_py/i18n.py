"""UI text in English and Korean, chosen from the browser's languages and switchable.

Every string a person can read lives here, errors included, so both languages stay complete
(a CPython test checks that each key exists in each language).
"""

from __future__ import annotations

from typing import Iterable

LANGUAGES = {"en": "English", "ko": "한국어"}
DEFAULT = "en"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "tagline": "A photo booth for friends who are far apart.",
        "name.label": "Your name",
        "name.placeholder": "How friends see you",
        "name.invalid": "Use 1-32 characters, without control characters.",
        "camera.label": "Camera",
        "mic.label": "Microphone",
        "preview.off": "Camera off",
        "create": "Create a booth",
        "creating": "Creating…",
        "invite.label": "Invite link",
        "invite.hint": "Send this link to up to 5 friends. It works for {hours} hours.",
        "copy": "Copy",
        "copied": "Copied",
        "copy.invite": "Copy invite link",
        "enter": "Enter the booth",
        "join.title": "You're invited to a booth",
        "join.occupancy": "{n} of {cap} inside",
        "join": "Join",
        "joining": "Joining…",
        "back": "Back to the start",
        "mute": "Mute",
        "unmute": "Unmute",
        "muted": "muted",
        "leave": "Leave",
        "you": "you",
        "alone": "Waiting for friends… share the invite link.",
        "connecting": "connecting…",
        "reconnecting": "Connection to the server lost. Reconnecting… (your call continues)",
        "error.title": "Can't open this booth",
        "error.room_full": "This booth is full: 6 people are already inside.",
        "error.invalid_token": "This invite link is not valid or has expired. Ask for a new one.",
        "error.no_room": "This booth no longer exists. Ask for a new link.",
        "error.bad_message": "Something went wrong talking to the server. Please try again.",
        "error.rate_limited": "Too many attempts. Wait a moment and try again.",
        "error.unavailable": "The server can't be reached. Check your connection and try again.",
        "error.no_link": "This link is incomplete: the part after # is missing. Ask for the whole link.",
        "unsupported.title": "This browser can't run CLOV",
        "unsupported.webrtc": "Your browser does not support WebRTC video calls. Try a recent Chrome, Edge, Firefox or Safari.",
        "unsupported.webgl2": "Your browser does not support WebGL2, which CLOV needs to draw the booth.",
        "unsupported.media": "Your browser can't use a camera here. Open CLOV over https:// in a recent browser.",
        "media.denied": "Camera and microphone are blocked. Allow them in the address bar, then reload.",
        "media.missing": "No camera or microphone found. You can still join and see and hear your friends.",
        "ai.unavailable": "AI effects could not start in this browser: your normal camera is shown. The call goes on.",
        "ai.no_segmentation": "Background removal is unavailable (its model could not be loaded): your normal camera is shown. The call goes on.",
        "ai.no_faces": "Face overlays are unavailable: the face model could not be loaded. The call goes on.",
        "background.remove": "Remove background",
        "overlays.label": "Face fun",
        "overlay.none": "None",
        "overlay.sunglasses": "Sunglasses",
        "overlay.glasses": "Glasses",
        "overlay.mask": "Masquerade",
        "overlay.hat": "Top hat",
        "overlay.crown": "Crown",
        "overlay.bunny-ears": "Bunny ears",
        "overlay.moustache": "Moustache",
        "overlay.blush": "Blush",
        "overlay.face-paint": "Face paint",
        "diagnostics": "Diagnostics",
        "diagnostics.provider": "AI runs on",
        "diagnostics.loading": "loading…",
        "diagnostics.fps": "Frames per second",
        "diagnostics.stage": "Stage",
        "diagnostics.faces": "Faces tracked",
        "stage.preprocess": "Preprocess",
        "stage.segmentation": "Segmentation",
        "stage.face": "Face tracking",
        "stage.overlays": "Overlays",
        "stage.pack": "Pack",
        "stage.total": "Whole frame",
        "language": "Language",
    },
    "ko": {
        "tagline": "멀리 있는 친구들과 함께 찍는 포토부스.",
        "name.label": "이름",
        "name.placeholder": "친구들에게 보일 이름",
        "name.invalid": "제어 문자 없이 1~32자로 입력하세요.",
        "camera.label": "카메라",
        "mic.label": "마이크",
        "preview.off": "카메라 꺼짐",
        "create": "부스 만들기",
        "creating": "만드는 중…",
        "invite.label": "초대 링크",
        "invite.hint": "이 링크를 친구 5명까지 보내세요. {hours}시간 동안 유효합니다.",
        "copy": "복사",
        "copied": "복사됨",
        "copy.invite": "초대 링크 복사",
        "enter": "부스 입장",
        "join.title": "부스에 초대받았어요",
        "join.occupancy": "{cap}명 중 {n}명 입장",
        "join": "참여하기",
        "joining": "참여하는 중…",
        "back": "처음으로",
        "mute": "음소거",
        "unmute": "음소거 해제",
        "muted": "음소거됨",
        "leave": "나가기",
        "you": "나",
        "alone": "친구를 기다리는 중… 초대 링크를 보내세요.",
        "connecting": "연결 중…",
        "reconnecting": "서버 연결이 끊겼습니다. 다시 연결하는 중… (통화는 계속됩니다)",
        "error.title": "부스를 열 수 없습니다",
        "error.room_full": "부스가 가득 찼습니다. 이미 6명이 있어요.",
        "error.invalid_token": "초대 링크가 올바르지 않거나 만료되었습니다. 새 링크를 요청하세요.",
        "error.no_room": "이 부스는 더 이상 없습니다. 새 링크를 요청하세요.",
        "error.bad_message": "서버와 통신하는 중 문제가 생겼습니다. 다시 시도하세요.",
        "error.rate_limited": "시도가 너무 많습니다. 잠시 후 다시 시도하세요.",
        "error.unavailable": "서버에 연결할 수 없습니다. 연결을 확인하고 다시 시도하세요.",
        "error.no_link": "링크가 잘렸습니다. # 뒤의 부분이 없어요. 전체 링크를 요청하세요.",
        "unsupported.title": "이 브라우저에서는 CLOV를 쓸 수 없습니다",
        "unsupported.webrtc": "이 브라우저는 WebRTC 영상 통화를 지원하지 않습니다. 최신 Chrome, Edge, Firefox, Safari를 쓰세요.",
        "unsupported.webgl2": "이 브라우저는 CLOV가 화면을 그리는 데 필요한 WebGL2를 지원하지 않습니다.",
        "unsupported.media": "여기서는 카메라를 쓸 수 없습니다. 최신 브라우저에서 https:// 주소로 여세요.",
        "media.denied": "카메라와 마이크가 차단되었습니다. 주소창에서 허용한 뒤 새로고침하세요.",
        "media.missing": "카메라나 마이크가 없습니다. 그래도 참여해서 친구들을 보고 들을 수 있어요.",
        "ai.unavailable": "이 브라우저에서 AI 효과를 시작할 수 없어 일반 카메라 화면을 보냅니다. 통화는 계속됩니다.",
        "ai.no_segmentation": "배경 제거 모델을 불러오지 못해 일반 카메라 화면을 보냅니다. 통화는 계속됩니다.",
        "ai.no_faces": "얼굴 모델을 불러오지 못해 얼굴 꾸미기를 쓸 수 없습니다. 통화는 계속됩니다.",
        "background.remove": "배경 제거",
        "overlays.label": "얼굴 꾸미기",
        "overlay.none": "없음",
        "overlay.sunglasses": "선글라스",
        "overlay.glasses": "안경",
        "overlay.mask": "가면",
        "overlay.hat": "실크햇",
        "overlay.crown": "왕관",
        "overlay.bunny-ears": "토끼 귀",
        "overlay.moustache": "콧수염",
        "overlay.blush": "볼터치",
        "overlay.face-paint": "페이스 페인팅",
        "diagnostics": "진단 정보",
        "diagnostics.provider": "AI 실행 장치",
        "diagnostics.loading": "불러오는 중…",
        "diagnostics.fps": "초당 프레임",
        "diagnostics.stage": "단계",
        "diagnostics.faces": "추적 중인 얼굴",
        "stage.preprocess": "전처리",
        "stage.segmentation": "배경 분리",
        "stage.face": "얼굴 추적",
        "stage.overlays": "꾸미기",
        "stage.pack": "패킹",
        "stage.total": "프레임 전체",
        "language": "언어",
    },
}


def pick_language(saved: str | None, preferred: Iterable[str]) -> str:
    """The saved choice, else the first supported browser language (`navigator.languages`)."""
    if saved in STRINGS:
        return saved
    for tag in preferred:
        base = tag.split("-")[0].lower()
        if base in STRINGS:
            return base
    return DEFAULT


class Translator:
    """`t("key", n=2)` in the current language."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        text = STRINGS[self.language].get(key) or STRINGS[DEFAULT][key]
        return text.format(**values) if values else text


def error_key(code: str) -> str:
    """The text key for a contract error code (`room_full` -> `error.room_full`)."""
    key = f"error.{code}"
    return key if key in STRINGS[DEFAULT] else "error.bad_message"
