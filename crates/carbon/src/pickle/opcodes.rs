//! Pickle opcode bytes (CPython's `pickletools` names), and which ones the decoder refuses.

/// Declares each opcode byte as a constant, and [`opcode_name`] from the same list: every
/// name is written once.
macro_rules! opcodes {
    ($($name:ident = $byte:expr,)*) => {
        $(pub(crate) const $name: u8 = $byte;)*

        /// The name CPython's `pickletools` gives an opcode byte, or `None` for a byte that is
        /// no opcode in protocols 0 to 5. Used in error messages.
        pub fn opcode_name(op: u8) -> Option<&'static str> {
            Some(match op {
                $($name => stringify!($name),)*
                _ => return None,
            })
        }
    };
}

// The bytes as CPython's `pickle.py` writes them.
opcodes! {
    MARK = b'(',
    STOP = b'.',
    POP = b'0',
    POP_MARK = b'1',
    DUP = b'2',
    FLOAT = b'F',
    INT = b'I',
    BININT = b'J',
    BININT1 = b'K',
    LONG = b'L',
    BININT2 = b'M',
    NONE = b'N',
    PERSID = b'P',
    BINPERSID = b'Q',
    REDUCE = b'R',
    STRING = b'S',
    BINSTRING = b'T',
    SHORT_BINSTRING = b'U',
    UNICODE = b'V',
    BINUNICODE = b'X',
    APPEND = b'a',
    BUILD = b'b',
    GLOBAL = b'c',
    DICT = b'd',
    EMPTY_DICT = b'}',
    APPENDS = b'e',
    GET = b'g',
    BINGET = b'h',
    INST = b'i',
    LONG_BINGET = b'j',
    LIST = b'l',
    EMPTY_LIST = b']',
    OBJ = b'o',
    PUT = b'p',
    BINPUT = b'q',
    LONG_BINPUT = b'r',
    SETITEM = b's',
    TUPLE = b't',
    EMPTY_TUPLE = b')',
    SETITEMS = b'u',
    BINFLOAT = b'G',
    PROTO = b'\x80',
    NEWOBJ = b'\x81',
    EXT1 = b'\x82',
    EXT2 = b'\x83',
    EXT4 = b'\x84',
    TUPLE1 = b'\x85',
    TUPLE2 = b'\x86',
    TUPLE3 = b'\x87',
    NEWTRUE = b'\x88',
    NEWFALSE = b'\x89',
    LONG1 = b'\x8a',
    LONG4 = b'\x8b',
    BINBYTES = b'B',
    SHORT_BINBYTES = b'C',
    SHORT_BINUNICODE = b'\x8c',
    BINUNICODE8 = b'\x8d',
    BINBYTES8 = b'\x8e',
    EMPTY_SET = b'\x8f',
    ADDITEMS = b'\x90',
    FROZENSET = b'\x91',
    NEWOBJ_EX = b'\x92',
    STACK_GLOBAL = b'\x93',
    MEMOIZE = b'\x94',
    FRAME = b'\x95',
    BYTEARRAY8 = b'\x96',
    NEXT_BUFFER = b'\x97',
    READONLY_BUFFER = b'\x98',
}

/// Why a known opcode is refused, or `None` if the decoder implements it.
pub(crate) fn refusal(op: u8) -> Option<&'static str> {
    Some(match op {
        GLOBAL | STACK_GLOBAL | INST | OBJ | NEWOBJ | NEWOBJ_EX | REDUCE | BUILD => {
            "it imports or calls Python code; carbon data never needs it"
        }
        PERSID | BINPERSID => "persistent ids need application callbacks",
        EXT1 | EXT2 | EXT4 => "the extension registry names Python objects",
        DICT | EMPTY_DICT | SETITEM | SETITEMS | EMPTY_SET | ADDITEMS | FROZENSET => {
            "carbon frames hold no dicts or sets"
        }
        POP | POP_MARK | DUP => "carbon senders never emit stack manipulation",
        BYTEARRAY8 | NEXT_BUFFER | READONLY_BUFFER => "out-of-band buffers are not carbon data",
        _ => return None,
    })
}
