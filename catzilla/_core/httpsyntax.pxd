# The RFC 9110 field-value grammar, one home for every header parser
# (catzilla/_core/httpsyntax.pyx): tokens (§5.6.2), comma-separated lists
# (§5.6.1), quoted strings (§5.6.4) and parameters (§5.6.6).

# -1: `s` is not a token; 1: a token with an upper-case letter; 0: one without
# (field names: one pass tells a name is valid and whether it needs lower()).
cdef int token_case(str s) noexcept
cpdef bint is_token(object s)
# The elements of a comma-separated list: a str, or the lines of one field (a
# list of str, combined as one list). OWS trimmed, empty elements dropped,
# commas inside quoted strings kept.
cpdef list split_list(object value)
# A quoted-string's content with its escapes undone, or a token as it is;
# None when `value` is neither.
cpdef object unquote(str value)
# ';'-separated parameters: [(lower-case name, value as written or None)],
# None when malformed. empty=False: an empty parameter ("a; ; b") is malformed.
cpdef object parse_params(str element, bint empty=*)
