"""Files sent during a flow that records something (a contact, a complaint): each photo, voice
note or document is kept in the conversation's data as its Telegram file id until the record
is saved, so a restart loses none of them."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.services import contact_log
from bot.services.contact_log import AttachmentDraft
from bot.services.errors import InvalidInput
from db.models import AttachmentKind


async def attach(state: FSMContext, message: Message) -> int:
    """Adds the message's file to the draft; returns how many files it has now."""
    draft = _file_of(message)
    files = list((await state.get_data()).get("files", []))
    contact_log.check_room_for_file(len(files))
    files.append({"kind": draft.kind.value, "file_id": draft.file_id, "file_name": draft.file_name})
    await state.update_data(files=files)
    return len(files)


def attachments(data: dict[str, Any]) -> list[AttachmentDraft]:
    """The files kept so far, for the service that saves the record."""
    return [
        AttachmentDraft(AttachmentKind(f["kind"]), f["file_id"], f.get("file_name"))
        for f in data.get("files", [])
    ]


def _file_of(message: Message) -> AttachmentDraft:
    if message.photo:
        return AttachmentDraft(AttachmentKind.PHOTO, message.photo[-1].file_id)
    if message.voice:
        return AttachmentDraft(AttachmentKind.VOICE, message.voice.file_id)
    if message.document:
        document = message.document
        return AttachmentDraft(AttachmentKind.DOCUMENT, document.file_id, document.file_name)
    raise InvalidInput()
