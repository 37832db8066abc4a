"""Catzilla: a Cython-compiled Python web micro-framework with real HTTP streaming."""
from catzilla.app import Catzilla
from catzilla.broadcast import Broadcast
from catzilla.compression import CompressionMiddleware, GZipMiddleware
from catzilla.cors import CORSMiddleware
from catzilla.datastructures import FormData, Headers, MutableHeaders, QueryParams, UploadFile
from catzilla.exceptions import ClientDisconnect, HTTPException, RequestValidationError
from catzilla.files import FileResponse
from catzilla.models import BaseModel, Field, ValidationError
from catzilla.middleware import RequestIdMiddleware, TrustedHostMiddleware
from catzilla.dependencies import BackgroundTask, BackgroundTasks, Depends, Security, inject, service
from catzilla.params import Body, Cookie, File, Form, Header, Path, Query
from catzilla.proxy import ProxyHeadersMiddleware
from catzilla.request import Request, State
from catzilla.response import (HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response,
                               StreamingResponse)
from catzilla.router import Route, RouteError, Router
from catzilla.security import (APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBasic,
                               HTTPBasicCredentials, HTTPBearer)
from catzilla.settings import Settings
from catzilla.sse import EventSourceResponse, ServerSentEvent
from catzilla.staticfiles import StaticFiles
from catzilla.websocket import WebSocket, WebSocketDisconnect, WebSocketState

RouterGroup = Router  # the reference release's name for a prefixed group of routes

__version__ = "0.3.0"

__all__ = [
    "Catzilla", "Request", "State", "Response", "JSONResponse", "HTMLResponse", "PlainTextResponse",
    "RedirectResponse", "StreamingResponse", "FileResponse", "StaticFiles", "EventSourceResponse", "ServerSentEvent",
    "HTTPException", "ClientDisconnect", "RequestValidationError", "Router", "RouterGroup", "Route",
    "RouteError", "Settings", "Headers", "MutableHeaders", "QueryParams", "FormData", "UploadFile",
    "WebSocket", "WebSocketDisconnect", "WebSocketState", "Broadcast", "BaseModel", "Field", "ValidationError",
    "Query", "Path", "Header", "Cookie", "Body", "Form", "File", "BackgroundTasks", "BackgroundTask",
    "Depends", "Security", "service", "inject",
    "HTTPBearer", "HTTPBasic", "HTTPAuthorizationCredentials", "HTTPBasicCredentials",
    "APIKeyHeader", "APIKeyQuery", "APIKeyCookie",
    "CompressionMiddleware", "GZipMiddleware",
    "CORSMiddleware",
    "ProxyHeadersMiddleware",
    "TrustedHostMiddleware",
    "RequestIdMiddleware",
    "__version__",
]
