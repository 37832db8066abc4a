from catzilla._core.websocket cimport WSProtocol
from catzilla.request cimport Request

cdef class WebSocket:
    cdef WSProtocol p                  # the protocol in the compiled core
    cdef readonly Request request      # the handshake request
    cdef readonly dict path_params
