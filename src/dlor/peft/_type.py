"""The PEFT type ``DLOR``: PEFT's ``PeftType`` enum gets one member for this method, as
``peft.utils.register_peft_method`` requires of a method that PEFT does not ship."""

from __future__ import annotations

from peft.utils import PeftType

NAME = "dlor"


def _peft_type() -> PeftType:
    key = NAME.upper()
    if key not in PeftType.__members__:
        member = str.__new__(PeftType, key)
        member._name_ = key
        member._value_ = key
        PeftType._member_map_[key] = member
        PeftType._value2member_map_[key] = member
        PeftType._member_names_.append(key)
        type.__setattr__(PeftType, key, member)
    return PeftType(key)


PEFT_TYPE = _peft_type()
