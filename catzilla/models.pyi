"""Type stub for catzilla/models.pyx: the model engine (msgspec; pydantic v2 types through pydantic)."""
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Mapping, Optional, Tuple, Type, TypeVar, Union

import msgspec

_M = TypeVar("_M", bound="BaseModel")
_IncEx = Union[set[str], Mapping[str, Any], None]

class ValidationError(ValueError):
    """Every error of one validation: .errors() -> [{"type", "loc", "msg", "input", "ctx"?}],
    loc without a source prefix."""

    title: Optional[str]
    def __init__(self, errors: Union[Iterable[Dict[str, Any]], str], title: Optional[str] = None) -> None:
        """errors: the error dicts, or one message (a value_error)."""
    def errors(self) -> List[Dict[str, Any]]: ...
    def error_count(self) -> int: ...

class FieldInfo:
    default: Any
    default_factory: Optional[Callable[[], Any]]
    alias: Optional[str]
    title: Optional[str]
    description: Optional[str]
    gt: Any
    ge: Any
    lt: Any
    le: Any
    multiple_of: Any
    min_length: Optional[int]
    max_length: Optional[int]
    pattern: Optional[str]
    examples: Optional[List[Any]]
    deprecated: Optional[bool]
    json_schema_extra: Optional[Dict[str, Any]]
    annotation: Any
    def __init__(self, default: Any = ..., *, default_factory: Optional[Callable[[], Any]] = None,
                 alias: Optional[str] = None, title: Optional[str] = None, description: Optional[str] = None,
                 gt: Any = None, ge: Any = None, lt: Any = None, le: Any = None, multiple_of: Any = None,
                 min_length: Optional[int] = None, max_length: Optional[int] = None, pattern: Optional[str] = None,
                 examples: Optional[List[Any]] = None, deprecated: Optional[bool] = None,
                 json_schema_extra: Optional[Dict[str, Any]] = None, annotation: Any = None) -> None: ...
    def is_required(self) -> bool: ...
    def constraints(self) -> Dict[str, Any]: ...
    def documentation(self) -> Dict[str, Any]: ...
    def meta(self) -> Optional[msgspec.Meta]: ...
    def annotate(self, tp: Any) -> Any:
        """`tp` with this field's constraints (on X for Optional[X]) and documentation."""

def Field(default: Any = ..., *, default_factory: Optional[Callable[[], Any]] = None, alias: Optional[str] = None,
          title: Optional[str] = None, description: Optional[str] = None, gt: Any = None, ge: Any = None,
          lt: Any = None, le: Any = None, multiple_of: Any = None, min_length: Optional[int] = None,
          max_length: Optional[int] = None, pattern: Optional[str] = None, examples: Optional[List[Any]] = None,
          deprecated: Optional[bool] = None, json_schema_extra: Optional[Dict[str, Any]] = None,
          regex: Optional[str] = None, min_items: Optional[int] = None, max_items: Optional[int] = None) -> Any:
    """A model field's default, alias, constraints and documentation (pydantic's Field).
    regex/min_items/max_items: pydantic v1's (and Catzilla 0.2.3's) names."""

class BaseModel(msgspec.Struct, kw_only=True):
    """A msgspec Struct (keyword-only fields) with pydantic's method names."""

    model_fields: ClassVar[Dict[str, FieldInfo]]
    model_config: ClassVar[Dict[str, Any]]
    @classmethod
    def model_validate(cls: Type[_M], obj: Any) -> _M: ...
    @classmethod
    def model_validate_json(cls: Type[_M], data: Union[bytes, bytearray, memoryview, str]) -> _M: ...
    def model_dump(self, *, mode: str = "python", by_alias: bool = False, exclude_none: bool = False,
                   exclude: _IncEx = None, include: _IncEx = None) -> Dict[str, Any]: ...
    def model_dump_json(self, *, by_alias: bool = False, exclude_none: bool = False, exclude: _IncEx = None,
                        include: _IncEx = None) -> str: ...
    @classmethod
    def model_json_schema(cls, ref_template: str = "#/$defs/{model}") -> Dict[str, Any]: ...
    def model_copy(self: _M, *, update: Optional[Mapping[str, Any]] = None, deep: bool = False) -> _M: ...
    # pydantic v1's names (Catzilla 0.2.3)
    @classmethod
    def parse_obj(cls: Type[_M], obj: Any) -> _M: ...
    @classmethod
    def parse_raw(cls: Type[_M], data: Union[bytes, bytearray, memoryview, str]) -> _M: ...
    def json(self, *, by_alias: bool = False, exclude_none: bool = False, exclude: _IncEx = None,
             include: _IncEx = None) -> str: ...
    def dict(self, *, mode: str = "python", by_alias: bool = False, exclude_none: bool = False,
             exclude: _IncEx = None, include: _IncEx = None) -> Dict[str, Any]: ...

class Codec:
    """Validation and encoding for one type (codec(tp), cached)."""

    def __init__(self, tp: Any) -> None: ...
    @property
    def type(self) -> Any: ...
    @property
    def schema_type(self) -> Any: ...
    @property
    def is_pydantic(self) -> bool: ...
    def decode_json(self, data: Union[bytes, bytearray, memoryview]) -> Any:
        """JSON -> value in one pass; ValidationError with every error (json_invalid for malformed JSON)."""
    def convert(self, obj: Any, from_strings: bool = False) -> Any:
        """Python objects -> value; from_strings: str inputs coerced as query strings are."""
    def encode(self, value: Any) -> bytes: ...

class Pattern:
    """A str `pattern` constraint: re.search semantics, compiled C (include/cz_pattern.c) for its subset."""

    def __new__(cls, pattern: str) -> "Pattern": ...
    @property
    def pattern(self) -> str: ...
    @property
    def compiled(self) -> bool: ...

def pattern_of(pattern: str) -> Pattern: ...
def _pattern_search(pattern: str, s: str) -> Optional[bool]: ...
def codec(tp: Any) -> Codec: ...
def is_model(tp: Any) -> bool:
    """Structs (BaseModel), dataclasses, TypedDicts and pydantic v2 models: a body when bare."""
def encode_json(value: Any) -> bytes:
    """Any returnable value (models, dataclasses, pydantic models, UUID, datetime, Decimal, Enum...) as JSON."""
def json_schema(types: Iterable[Any], ref_template: str = "#/components/schemas/{name}"
                ) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """JSON Schema 2020-12 per type and the shared components."""
