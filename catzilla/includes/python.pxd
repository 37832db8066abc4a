# The pieces of the CPython C API the compiled modules use that Cython's own
# cpython/*.pxd do not declare (or declare with reference counting we avoid).
cdef extern from "Python.h":
    ctypedef struct PyObject

    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL
    bint PyUnicode_IS_ASCII(object o)
    unsigned int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_UCS4 PyUnicode_READ(unsigned int kind, void *data, Py_ssize_t index) nogil
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    Py_ssize_t PyUnicode_Tailmatch(object s, object sub, Py_ssize_t start,
                                   Py_ssize_t end, int direction) except -1
    Py_ssize_t PyUnicode_FindChar(object s, Py_UCS4 ch, Py_ssize_t start, Py_ssize_t end,
                                  int direction) except -2
    bint PyCoro_CheckExact(object o)
    Py_ssize_t PY_SSIZE_T_MAX

    # Borrowed-pointer variants: no reference counting inside scan loops.
    PyObject *borrowed_list_item "PyList_GET_ITEM"(object lst, Py_ssize_t i)
    PyObject *borrowed_tuple_item "PyTuple_GET_ITEM"(PyObject *tup, Py_ssize_t i)
    Py_ssize_t borrowed_ulen "PyUnicode_GET_LENGTH"(PyObject *o)
    int borrowed_ukind "PyUnicode_KIND"(PyObject *o)
    const void *borrowed_udata "PyUnicode_DATA"(PyObject *o)
