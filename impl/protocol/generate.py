#!/usr/bin/env python3
"""generate.py: turns Kafka's JSON message schemas into C structs, encoders and decoders.

Usage: generate.py SCHEMA_DIR ERROR_CODES_TSV OUT_DIR TEST_HEADER

Reads SCHEMA_DIR/*.json (Kafka's own files, with // comments), the error-code table, and writes
  OUT_DIR/messages_generated.h, OUT_DIR/messages_generated.c   (structs, codecs, api table)
  OUT_DIR/errors_generated.h,   OUT_DIR/errors_generated.c     (error codes)
  TEST_HEADER                                                  (fill/compare helpers for tests)

Standard library only. The output is deterministic (sorted inputs, no timestamps), so a
regeneration from the same schemas is byte-identical. See impl/protocol/README.md.
"""
import json
import os
import re
import sys

VERSION_MAX = 32767

# The messages the broker needs (requests and responses), the optional admin APIs it may
# advertise, and the embedded/non-RPC structures. Everything else in the schema directory only
# appears in the api-key table.
MESSAGES = """
ApiVersions Metadata Produce Fetch ListOffsets CreateTopics DeleteTopics CreatePartitions
DescribeConfigs IncrementalAlterConfigs AlterConfigs DescribeCluster DeleteRecords
OffsetForLeaderEpoch FindCoordinator JoinGroup SyncGroup Heartbeat LeaveGroup OffsetCommit
OffsetFetch ListGroups DescribeGroups DeleteGroups InitProducerId AddPartitionsToTxn
AddOffsetsToTxn EndTxn TxnOffsetCommit WriteTxnMarkers Vote BeginQuorumEpoch EndQuorumEpoch
DescribeQuorum FetchSnapshot ElectLeaders AlterPartition BrokerRegistration BrokerHeartbeat
SaslHandshake SaslAuthenticate OffsetDelete DescribeAcls CreateAcls DeleteAcls
AlterPartitionReassignments ListPartitionReassignments DescribeUserScramCredentials
AlterUserScramCredentials DescribeProducers DescribeTransactions ListTransactions
DescribeTopicPartitions AllocateProducerIds
""".split()
DATA_MESSAGES = """
ConsumerProtocolSubscription ConsumerProtocolAssignment LeaderChangeMessage
SnapshotHeaderRecord SnapshotFooterRecord KRaftVersionRecord VotersRecord
""".split()

# type name -> (C type, read function, write function, wire size)
PRIMITIVES = {
    'bool': ('bool', 'proto_read_bool', 'proto_write_bool', 1),
    'int8': ('i8', 'proto_read_i8', 'proto_write_i8', 1),
    'int16': ('i16', 'proto_read_i16', 'proto_write_i16', 2),
    'uint16': ('u16', 'proto_read_u16', 'proto_write_u16', 2),
    'int32': ('i32', 'proto_read_i32', 'proto_write_i32', 4),
    'uint32': ('u32', 'proto_read_u32', 'proto_write_u32', 4),
    'int64': ('i64', 'proto_read_i64', 'proto_write_i64', 8),
    'float64': ('double', 'proto_read_f64', 'proto_write_f64', 8),
    'uuid': ('struct proto_uuid', 'proto_read_uuid', 'proto_write_uuid', 16),
}
STRINGY = {'string': 'struct proto_string', 'bytes': 'struct proto_bytes',
           'records': 'struct proto_bytes'}


def fail(message):
    sys.stderr.write('generate.py: %s\n' % message)
    sys.exit(1)


def load_json(path):
    """Kafka's schema files are JSON plus whole-line // comments."""
    with open(path, encoding='utf-8') as f:
        lines = [line for line in f.read().split('\n') if not line.strip().startswith('//')]
    return json.loads('\n'.join(lines))


def snake(name):
    s = re.sub(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])', '_', name)
    return s.lower()


def upper_snake(name):
    return snake(name).upper()


class Range:
    """An inclusive version range; None stands for 'none'."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def contains(self, v):
        return self.lo <= v <= self.hi

    def __eq__(self, other):
        return isinstance(other, Range) and (self.lo, self.hi) == (other.lo, other.hi)


def parse_range(text):
    if text is None:
        return None
    text = str(text).strip()
    if text == 'none':
        return None
    if text.endswith('+'):
        return Range(int(text[:-1]), VERSION_MAX)
    if '-' in text:
        lo, hi = text.split('-')
        return Range(int(lo), int(hi))
    return Range(int(text), int(text))


def in_range(r, v):
    return r is not None and r.contains(v)


class Field:
    def __init__(self, spec, message):
        self.name = spec['name']
        self.raw_type = spec['type']
        self.is_array = self.raw_type.startswith('[]')
        self.elem = self.raw_type[2:] if self.is_array else self.raw_type
        self.versions = parse_range(spec.get('versions'))
        self.nullable = parse_range(spec.get('nullableVersions'))
        self.tagged = parse_range(spec.get('taggedVersions'))
        self.tag = None if spec.get('tag') is None else int(spec['tag'])
        self.default = spec.get('default')
        self.ignorable = bool(spec.get('ignorable', False))
        self.flexible = parse_range(spec['flexibleVersions']) if 'flexibleVersions' in spec \
            else message.flexible
        self.struct = None  # resolved later for struct-typed fields
        if self.elem in PRIMITIVES:
            self.kind = 'prim'
        elif self.elem in STRINGY:
            self.kind = 'string' if self.elem == 'string' else 'bytes'
        else:
            self.kind = 'struct'
        if self.tagged is not None:
            if self.tag is None or self.versions is None:
                fail('%s.%s: tagged field without tag or versions' % (message.name, self.name))
            if self.tagged != self.versions:
                fail('%s.%s: taggedVersions differ from versions' % (message.name, self.name))
        # A struct field (not an array) that may be null is held by pointer.
        self.pointer = self.kind == 'struct' and not self.is_array and self.nullable is not None


class Struct:
    def __init__(self, name, fields_spec, message, top=False):
        self.name = name
        self.message = message
        self.top = top
        self.fields = [Field(f, message) for f in fields_spec]
        self.fields_spec = fields_spec
        self.cname = None
        self.needs_is_default = False
        self.needs_size_min = False


class Message:
    def __init__(self, spec, path):
        self.path = path
        self.name = spec['name']
        self.kind = spec['type']
        self.api_key = spec.get('apiKey')
        self.valid = parse_range(spec['validVersions'])
        self.flexible = parse_range(spec.get('flexibleVersions'))
        self.snake = snake(self.name)
        self.structs = {}
        self.top = Struct(self.name, spec['fields'], self, top=True)
        for common in spec.get('commonStructs', []):
            self.register(Struct(common['name'], common['fields'], self))
        self.collect(self.top)
        self.resolve(self.top, set())
        self.name_structs()

    def register(self, struct):
        if struct.name in self.structs:
            fail('%s: struct %s defined twice' % (self.name, struct.name))
        self.structs[struct.name] = struct
        self.collect(struct)

    def collect(self, struct):
        for field, spec in zip(struct.fields, struct.fields_spec):
            if field.kind == 'struct' and 'fields' in spec:
                self.register(Struct(field.elem, spec['fields'], self))

    def resolve(self, struct, seen):
        if struct.name in seen:
            fail('%s: recursive struct %s' % (self.name, struct.name))
        for field in struct.fields:
            if field.kind != 'struct':
                continue
            if field.elem not in self.structs:
                fail('%s: unknown type %s' % (self.name, field.elem))
            field.struct = self.structs[field.elem]
            self.resolve(field.struct, seen | {struct.name})

    def name_structs(self):
        self.top.cname = 'kafka_' + self.snake
        base = re.sub(r'_(request|response)$', '', self.snake)
        taken = {self.top.cname}
        for name in sorted(self.structs):
            s = snake(name)
            words, base_words = s.split('_'), base.split('_')
            common = 0
            while common < min(len(words) - 1, len(base_words)) \
                    and words[common] == base_words[common]:
                common += 1
            rest = '_'.join(words[common:])
            if common:
                for kind in ('request_', 'response_'):
                    if rest.startswith(kind) and self.snake.endswith(kind[:-1]):
                        rest = rest[len(kind):]
            for kind in ('_request', '_response'):
                if rest.endswith(kind) and self.snake.endswith(kind) and rest != kind[1:]:
                    rest = rest[:-len(kind)]
            cname = 'kafka_%s_%s' % (self.snake, rest or s)
            if cname in taken:
                cname = 'kafka_%s_%s' % (self.snake, s)
            if cname in taken:
                fail('%s: struct name collision %s' % (self.name, cname))
            taken.add(cname)
            self.structs[name].cname = cname

    def ordered_structs(self):
        """Every struct of the message, dependencies first, the message itself last."""
        order, done = [], set()

        def visit(struct):
            if struct.name in done:
                return
            for field in struct.fields:
                if field.struct is not None:
                    visit(field.struct)
            done.add(struct.name)
            order.append(struct)
        for name in sorted(self.structs):
            visit(self.structs[name])
        visit(self.top)
        return order

    def versions(self):
        return range(self.valid.lo, self.valid.hi + 1)

    def flex_at(self, v):
        return in_range(self.flexible, v)


# ===== C expression helpers =====

def cond(r, context):
    """A C condition for 'version in r', simplified against the versions in which the context
    (a struct, or a whole message) can be on the wire at all."""
    if r is None:
        return 'false'
    valid = context.valid
    lo, hi = max(r.lo, valid.lo), min(r.hi, valid.hi)
    if lo > hi:
        return 'false'
    parts = []
    if lo > valid.lo:
        parts.append('version >= %d' % lo)
    if hi < valid.hi:
        parts.append('version <= %d' % hi)
    return ' && '.join(parts) or 'true'


class Context:
    """A version range that conditions are simplified against."""

    def __init__(self, valid):
        self.valid = valid


def narrowed(context, r):
    """The context restricted to r: code that only runs for versions in r."""
    valid = context.valid
    if r is None:
        return Context(Range(1, 0))
    return Context(Range(max(valid.lo, r.lo), min(valid.hi, r.hi)))


def presence(field):
    """The versions in which a field's value is read or written (inside its version check)."""
    return narrowed(field._owner, field.versions)


def int_literal(value, ctype):
    if ctype == 'i32' and value == -2 ** 31:
        return 'INT32_MIN'
    if ctype == 'i64' and value == -2 ** 63:
        return 'INT64_MIN'
    if ctype == 'i64' and not (-2 ** 31 < value < 2 ** 31):
        return 'INT64_C(%d)' % value
    if ctype == 'i16' and value == -2 ** 15:
        return 'INT16_MIN'
    return str(value)


def default_value(field):
    """The default as a C expression, or None when it is the zero value."""
    d = field.default
    if field.is_array:
        if d is not None and str(d) not in ('null', ''):
            fail('array default %r' % d)
        return 'null' if str(d) == 'null' else None
    if field.kind == 'struct':
        return None
    if field.kind in ('string', 'bytes'):
        if d is None or d == '':
            return None
        if d == 'null':
            return 'null'
        fail('%s: unsupported string default %r' % (field.name, d))
    ctype = PRIMITIVES[field.elem][0]
    if field.elem == 'bool':
        value = d if isinstance(d, bool) else str(d).lower() == 'true'
        return 'true' if value else None
    if field.elem == 'uuid':
        return None
    if d is None:
        return None
    if field.elem == 'float64':
        value = float(d)
        return None if value == 0 else repr(value)
    value = int(str(d), 0)
    return None if value == 0 else int_literal(value, ctype)


def default_check(field, value):
    """A C expression that is true when value (an lvalue expression) holds the default."""
    d = default_value(field)
    if field.is_array:
        return '%s.count %s' % (value, '< 0' if d == 'null' else '== 0')
    if field.kind in ('string', 'bytes'):
        return '%s.size %s' % (value, '< 0' if d == 'null' else '== 0')
    if field.kind == 'struct':
        if field.pointer:
            return '%s == NULL' % value
        field.struct.needs_is_default = True
        return '%s_is_default(&%s)' % (field.struct.cname, value)
    if field.elem == 'uuid':
        return 'proto_uuid_is_zero(%s)' % value
    if field.elem == 'bool':
        return value if d == 'true' else '!%s' % value
    return '%s == %s' % (value, d or '0')


def negate(check):
    """The negation of a default check, without a double negation."""
    if check.startswith('!') and re.match(r'^![A-Za-z_][\w>.-]*$', check):
        return check[1:]
    if ' == ' in check and '&&' not in check and '||' not in check and '(' not in check:
        return check.replace(' == ', ' != ')
    if check.endswith(' == NULL') and '(' not in check:
        return check[:-len(' == NULL')] + ' != NULL'
    return '!%s' % check if re.match(r'^[\w>.-]+\(.*\)$', check) else '!(%s)' % check


def elem_ctype(field):
    if field.kind == 'prim':
        return PRIMITIVES[field.elem][0]
    if field.kind in ('string', 'bytes'):
        return STRINGY[field.elem]
    return 'struct ' + field.struct.cname


def min_size(struct, v):
    message = struct.message
    flex = message.flex_at(v)
    total = 1 if flex else 0
    for f in struct.fields:
        if not in_range(f.versions, v) or f.tagged is not None:
            continue
        fflex = in_range(f.flexible, v)
        if f.is_array:
            total += 1 if fflex else 4
        elif f.kind == 'prim':
            total += PRIMITIVES[f.elem][3]
        elif f.kind == 'string':
            total += 1 if fflex else 2
        elif f.kind == 'bytes':
            total += 1 if fflex else 4
        elif f.pointer and in_range(f.nullable, v):
            total += 1
        else:
            total += min_size(f.struct, v)
    return total


def versioned_expression(message, values):
    """values: {version: int}. A C expression picking the value for 'version'."""
    runs = []
    for v in message.versions():
        if v not in values:
            continue
        if runs and runs[-1][1] == values[v]:
            continue
        runs.append((v, values[v]))
    if not runs:
        return '0'
    if len(runs) == 1:
        return str(runs[0][1])
    expr = str(runs[0][1])
    for start, value in runs[1:]:
        expr = 'version >= %d ? %d : %s' % (start, value, expr)
    return '(%s)' % expr


def element_min_size(field):
    message = field.struct.message if field.struct else None
    if field.kind == 'prim':
        return str(PRIMITIVES[field.elem][3])
    if field.kind == 'string':
        return None  # depends on flexibility: filled in by caller
    if field.kind == 'bytes':
        return None
    values = {v: min_size(field.struct, v) for v in message.versions()}
    if len(set(values.values())) == 1:
        return str(values[message.valid.lo])
    field.struct.needs_size_min = True
    return '%s_size_min(version)' % field.struct.cname


def emit_size_min(out, struct):
    """A function giving the struct's smallest wire size per version (bounds array counts)."""
    m = struct.message
    runs = []
    for v in m.versions():
        size = min_size(struct, v)
        if runs and runs[-1][1] == size:
            continue
        runs.append((v, size))

    def body(b):
        for start, size in reversed(runs[1:]):
            b.line('if (version >= %d) return %d;' % (start, size), 1)
        b.line('return %d;' % runs[0][1], 1)
    emit_function(out, 'static u32 %s_size_min(i16 version)' % struct.cname, body, ['version'])


# ===== Code emission =====

class Out:
    def __init__(self):
        self.lines = []

    def line(self, text='', indent=0):
        for piece in wrap(('    ' * indent) + text if text else '', indent):
            self.lines.append(piece)

    def text(self):
        return '\n'.join(self.lines) + '\n'


def wrap(line, indent):
    """Splits a line longer than 100 columns after commas (calls and prototypes)."""
    if len(line) <= 100:
        return [line]
    open_paren = line.find('(')
    if open_paren < 0 or re.match(r'\s*(for|while|switch) ', line):
        return [line]
    head = line[:open_paren + 1]
    args = split_top_level(line[open_paren + 1:])
    continuation = ' ' * (len('    ' * indent) + 8)
    pieces = []
    current = head
    if len(head) + len(args[0]) > 100:
        pieces.append(head)
        current = continuation
    for i, arg in enumerate(args):
        piece = arg if current.strip() == '' or current == head else ' ' + arg
        if len(current) + len(piece) > 100 and current.strip() and current != head:
            pieces.append(current.rstrip())
            current = continuation + arg
        else:
            current += piece
    pieces.append(current)
    if len(continuation) > 4 and any(len(p) > 100 for p in pieces):
        pieces = [p if not p.startswith(continuation) else p[4:] for p in pieces]
    return [part for p in pieces for part in hard_wrap(p, continuation)]


def hard_wrap(line, continuation):
    """Last resort for very long names: breaks at the last space before column 100."""
    parts = []
    while len(line) > 100 and '"' not in line:
        indent = len(line) - len(line.lstrip(' '))
        cut = line.rfind(' ', indent + 1, 100)
        if cut <= indent:
            break
        parts.append(line[:cut].rstrip())
        line = continuation + '    ' + line[cut + 1:]
    parts.append(line)
    return parts


def split_top_level(text):
    """Splits after commas and after && or || that are not nested inside parentheses."""
    args, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
        elif depth == 0 and ch == ',':
            args.append(text[start:i + 1])
            start = i + 2 if text[i + 1:i + 2] == ' ' else i + 1
        elif depth == 0 and text[i:i + 4] in (' && ', ' || '):
            args.append(text[start:i + 3])
            start = i + 4
            i += 3
        i += 1
    args.append(text[start:])
    return args


def range_comment(field):
    parts = []
    r = field.versions
    if r is None:
        parts.append('never')
    elif r.hi == VERSION_MAX:
        parts.append('v%d+' % r.lo)
    elif r.lo == r.hi:
        parts.append('v%d' % r.lo)
    else:
        parts.append('v%d-%d' % (r.lo, r.hi))
    if field.nullable is not None:
        parts.append('nullable v%d+' % field.nullable.lo if field.nullable.hi == VERSION_MAX
                     else 'nullable v%d-%d' % (field.nullable.lo, field.nullable.hi))
    if field.tagged is not None:
        parts.append('tag %d' % field.tag)
    d = field.default
    if d is not None and str(d) not in ('', '0', 'false', 'False'):
        parts.append('default %s' % d)
    if field.is_array:
        parts.append('count -1 = null' if field.nullable is not None else '')
    return ', '.join(p for p in parts if p)


def emit_struct_definition(out, struct):
    m = struct.message
    title = m.name if struct.top else '%s.%s' % (m.name, struct.name)
    out.line('/* %s. */' % title)
    out.line('struct %s {' % struct.cname)
    if not struct.fields:
        out.line('char unused_; /* No fields. */', 1)
    for f in struct.fields:
        comment = '/* %s */' % range_comment(f)
        ctype = elem_ctype(f)
        if f.is_array:
            decl = 'struct { %s *items; i32 count; } %s;' % (ctype, f.name)
        elif f.pointer:
            decl = '%s *%s;' % (ctype, f.name)
        else:
            decl = '%s %s;' % (ctype, f.name)
        text = '    %s %s' % (decl, comment)
        if len(text) <= 100:
            out.line(decl + ' ' + comment, 1)
        elif len(decl) <= 96:
            out.line(comment, 1)
            out.line(decl, 1)
        else:
            out.line(comment, 1)
            out.line('struct {', 1)
            out.line('%s *items;' % ctype, 2)
            out.line('i32 count;', 2)
            out.line('} %s;' % f.name, 1)
    out.line('};')
    out.line()


def read_statements(out, field, value, reader, indent):
    """Emits the statements that read one field's value (already known to be present)."""
    m = presence(field)
    flex = cond(field.flexible, m)
    nullable = cond(field.nullable, m)
    if field.is_array:
        if field.kind == 'prim':
            size_min = str(PRIMITIVES[field.elem][3])
        elif field.kind == 'string':
            size_min = '1' if flex == 'true' else '2' if flex == 'false' else \
                '(%s ? 1 : 2)' % flex
        elif field.kind == 'bytes':
            size_min = '1' if flex == 'true' else '4' if flex == 'false' else \
                '(%s ? 1 : 4)' % flex
        else:
            size_min = element_min_size(field)
        out.line('{', indent)
        if len(size_min) > 40:
            out.line('const u32 size_min =', indent + 1)
            out.line('    %s;' % size_min, indent + 1)
            size_min = 'size_min'
        out.line('i32 count = proto_read_array_count(%s, %s, %s, %s);'
                 % (reader, flex, nullable, size_min), indent + 1)
        out.line('void *items = proto_read_array_items(%s, arena, count, sizeof(*%s.items));'
                 % (reader, value), indent + 1)
        out.line('if (items == NULL && count > 0) count = 0;', indent + 1)
        out.line('%s.items = items;' % value, indent + 1)
        out.line('%s.count = count;' % value, indent + 1)
        out.line('for (i32 i = 0; i < count && %s->error == PROTO_OK; i++) {' % reader,
                 indent + 1)
        item = '%s.items[i]' % value
        if field.kind == 'prim':
            out.line('%s = %s(%s);' % (item, PRIMITIVES[field.elem][1], reader), indent + 2)
        elif field.kind == 'string':
            out.line('%s = proto_read_string(%s, %s, false);' % (item, reader, flex), indent + 2)
        elif field.kind == 'bytes':
            out.line('%s = proto_read_bytes(%s, %s, false);' % (item, reader, flex), indent + 2)
        else:
            cname = field.struct.cname
            out.line('%s_init(&%s);' % (cname, item), indent + 2)
            out.line('%s_read(%s, version, &%s, arena);' % (cname, reader, item), indent + 2)
        out.line('}', indent + 1)
        out.line('}', indent)
    elif field.kind == 'prim':
        out.line('%s = %s(%s);' % (value, PRIMITIVES[field.elem][1], reader), indent)
    elif field.kind == 'string':
        out.line('%s = proto_read_string(%s, %s, %s);' % (value, reader, flex, nullable), indent)
    elif field.kind == 'bytes':
        out.line('%s = proto_read_bytes(%s, %s, %s);' % (value, reader, flex, nullable), indent)
    elif field.pointer:
        cname = field.struct.cname
        out.line('%s = NULL;' % value, indent)
        if nullable == 'false':
            out.line('{', indent)
        elif nullable == 'true':
            out.line('if (proto_read_struct_present(%s, true)) {' % reader, indent)
        else:
            out.line('if (!(%s) || proto_read_struct_present(%s, true)) {' % (nullable, reader),
                     indent)
        out.line('%s = proto_read_array_items(%s, arena, 1, sizeof(*%s));'
                 % (value, reader, value), indent + 1)
        out.line('if (%s != NULL) {' % value, indent + 1)
        out.line('%s_init(%s);' % (cname, value), indent + 2)
        out.line('%s_read(%s, version, %s, arena);' % (cname, reader, value), indent + 2)
        out.line('}', indent + 1)
        out.line('}', indent)
    else:
        out.line('%s_read(%s, version, &%s, arena);' % (field.struct.cname, reader, value), indent)


def write_statements(out, field, value, writer, indent):
    """Emits the statements that write one field's value (known to be present)."""
    m = presence(field)
    flex = cond(field.flexible, m)
    nullable = cond(field.nullable, m)
    if field.is_array:
        out.line('ASSERT(%s.count <= 0 || %s.items != NULL);' % (value, value), indent)
        out.line('proto_write_array_count(%s, %s.count, %s, %s);'
                 % (writer, value, flex, nullable), indent)
        out.line('for (i32 i = 0; i < %s.count; i++) {' % value, indent)
        item = '%s.items[i]' % value
        if field.kind == 'prim':
            out.line('%s(%s, %s);' % (PRIMITIVES[field.elem][2], writer, item), indent + 1)
        elif field.kind == 'string':
            out.line('proto_write_string(%s, %s, %s, false);' % (writer, item, flex), indent + 1)
        elif field.kind == 'bytes':
            out.line('proto_write_bytes(%s, %s, %s, false);' % (writer, item, flex), indent + 1)
        else:
            out.line('%s_write(%s, version, &%s);' % (field.struct.cname, writer, item),
                     indent + 1)
        out.line('}', indent)
    elif field.kind == 'prim':
        out.line('%s(%s, %s);' % (PRIMITIVES[field.elem][2], writer, value), indent)
    elif field.kind == 'string':
        out.line('proto_write_string(%s, %s, %s, %s);' % (writer, value, flex, nullable), indent)
    elif field.kind == 'bytes':
        out.line('proto_write_bytes(%s, %s, %s, %s);' % (writer, value, flex, nullable), indent)
    elif field.pointer:
        cname = field.struct.cname
        if nullable != 'false':
            if nullable == 'true':
                out.line('proto_write_i8(%s, %s == NULL ? -1 : 1);' % (writer, value), indent)
            else:
                out.line('if (%s) proto_write_i8(%s, %s == NULL ? -1 : 1);'
                         % (nullable, writer, value), indent)
        if nullable != 'true':
            pre = '' if nullable == 'false' else '!(%s) && ' % nullable
            out.line('if (%s%s == NULL) proto_writer_fail(%s, PROTO_ERROR_UNREPRESENTABLE);'
                     % (pre, value, writer), indent)
        out.line('if (%s != NULL) %s_write(%s, version, %s);' % (value, cname, writer, value),
                 indent)
    else:
        out.line('%s_write(%s, version, &%s);' % (field.struct.cname, writer, value), indent)


def emit_function(out, signature, body_lines_fn, params):
    out.line(signature)
    out.line('{')
    body = Out()
    body_lines_fn(body)
    text = '\n'.join(body.lines)
    for name in params:
        if not re.search(r'\b%s\b' % name, text):
            out.line('(void)%s;' % name, 1)
    out.lines.extend(body.lines)
    out.line('}')
    out.line()


def emit_init(out, struct):
    def body(b):
        b.line('ASSERT(value != NULL);', 1)
        b.line('memset(value, 0, sizeof(*value));', 1)
        for f in struct.fields:
            d = default_value(f)
            value = 'value->%s' % f.name
            if f.is_array:
                if d == 'null':
                    b.line('%s.count = -1;' % value, 1)
            elif f.kind == 'struct':
                if not f.pointer:
                    b.line('%s_init(&%s);' % (f.struct.cname, value), 1)
            elif f.kind == 'string' and d == 'null':
                b.line('%s = PROTO_STRING_NULL;' % value, 1)
            elif f.kind == 'bytes' and d == 'null':
                b.line('%s = PROTO_BYTES_NULL;' % value, 1)
            elif d is not None:
                b.line('%s = %s;' % (value, d), 1)
    emit_function(out, 'void %s_init(struct %s *value)' % (struct.cname, struct.cname),
                  body, ['value'])


def emit_is_default(out, struct):
    def body(b):
        b.line('ASSERT(value != NULL);', 1)
        checks = [default_check(f, 'value->%s' % f.name) for f in struct.fields]
        if not checks:
            b.line('return true;', 1)
            return
        for check in checks:
            b.line('if (!(%s)) return false;' % check, 1)
        b.line('return true;', 1)
    emit_function(out, 'static bool %s_is_default(const struct %s *value)'
                  % (struct.cname, struct.cname), body, ['value'])


def emit_read(out, struct):
    m = struct
    tagged = [f for f in struct.fields if f.tagged is not None]

    def body(b):
        for f in struct.fields:
            if f.tagged is not None:
                continue
            c = cond(f.versions, m)
            if c == 'false':
                continue
            value = 'value->%s' % f.name
            if c == 'true':
                read_statements(b, f, value, 'reader', 1)
            else:
                b.line('if (%s) {' % c, 1)
                read_statements(b, f, value, 'reader', 2)
                b.line('}', 1)
        flex = cond(m.message.flexible, m)
        if flex == 'false':
            return
        indent = 1
        if flex != 'true':
            b.line('if (%s) {' % flex, 1)
            indent = 2
        if not tagged:
            b.line('proto_read_tagged_fields_skip(reader);', indent)
        else:
            emit_tagged_read(b, struct, tagged, indent)
        if flex != 'true':
            b.line('}', 1)
    emit_function(out, 'static void %s_read(struct proto_reader *reader, i16 version, '
                  'struct %s *value, struct proto_arena *arena)'
                  % (struct.cname, struct.cname), body, ['reader', 'version', 'value', 'arena'])


def emit_tagged_read(b, struct, tagged, indent):
    m = narrowed(struct, struct.message.flexible)
    b.line('u32 tagged_count = proto_read_uvarint(reader);', indent)
    b.line('for (u32 t = 0; t < tagged_count && reader->error == PROTO_OK; t++) {', indent)
    b.line('u32 tag = proto_read_uvarint(reader);', indent + 1)
    b.line('u32 size = proto_read_uvarint(reader);', indent + 1)
    b.line('struct proto_reader part = proto_reader_take(reader, size);', indent + 1)
    b.line('struct proto_reader *field = &part;', indent + 1)
    b.line('bool known = false;', indent + 1)
    first = True
    for f in sorted(tagged, key=lambda f: f.tag):
        c = cond(f.tagged, m)
        test = 'tag == %d' % f.tag if c == 'true' else 'tag == %d && %s' % (f.tag, c)
        b.line('%sif (%s) {' % ('' if first else '} else ', test), indent + 1)
        first = False
        b.line('known = true;', indent + 2)
        read_statements(b, f, 'value->%s' % f.name, 'field', indent + 2)
    b.line('}', indent + 1)
    b.line('proto_reader_merge(reader, field, known);', indent + 1)
    b.line('}', indent)


def emit_write(out, struct):
    m = struct
    tagged = [f for f in struct.fields if f.tagged is not None]

    def body(b):
        for f in struct.fields:
            c = cond(f.versions, m)
            value = 'value->%s' % f.name
            guard = c != 'true' and not f.ignorable
            fail_line = 'proto_writer_fail(writer, PROTO_ERROR_UNREPRESENTABLE);'
            if f.tagged is None and c == 'true':
                write_statements(b, f, value, 'writer', 1)
            elif f.tagged is None and c != 'false':
                b.line('if (%s) {' % c, 1)
                write_statements(b, f, value, 'writer', 2)
                if guard:
                    b.line('} else if (%s) {' % negate(default_check(f, value)), 1)
                    b.line(fail_line, 2)
                b.line('}', 1)
            elif guard:
                if c != 'false':
                    b.line('if (!(%s)) {' % c, 1)
                b.line('if (%s) {' % negate(default_check(f, value)), 1 if c == 'false' else 2)
                b.line(fail_line, 2 if c == 'false' else 3)
                b.line('}', 1 if c == 'false' else 2)
                if c != 'false':
                    b.line('}', 1)
        flex = cond(m.message.flexible, m)
        if flex == 'false':
            return
        indent = 1
        if flex != 'true':
            b.line('if (%s) {' % flex, 1)
            indent = 2
        if not tagged:
            b.line('proto_write_uvarint(writer, 0); /* No tagged fields. */', indent)
        else:
            emit_tagged_write(b, struct, tagged, indent)
        if flex != 'true':
            b.line('}', 1)
    emit_function(out, 'static void %s_write(struct proto_writer *writer, i16 version, '
                  'const struct %s *value)' % (struct.cname, struct.cname), body,
                  ['writer', 'version', 'value'])


def emit_tagged_write(b, struct, tagged, indent):
    m = narrowed(struct, struct.message.flexible)
    ordered = sorted(tagged, key=lambda f: f.tag)
    for f in ordered:
        c = cond(f.tagged, m)
        check = default_check(f, 'value->%s' % f.name)
        expr = negate(check) if c == 'true' else '(%s) && %s' % (c, negate(check))
        line = 'const bool send_%s = %s;' % (f.name, expr)
        if len(line) + 4 * indent <= 100:
            b.line(line, indent)
        else:
            if c == 'true':
                b.line('const bool send_%s =' % f.name, indent)
            else:
                b.line('const bool send_%s = (%s) &&' % (f.name, c), indent)
            b.line('    %s;' % negate(check), indent + 1)
    b.line('u32 tagged_count = 0;', indent)
    for f in ordered:
        b.line('tagged_count += send_%s ? 1 : 0;' % f.name, indent)
    b.line('proto_write_uvarint(writer, tagged_count);', indent)
    for f in ordered:
        b.line('if (send_%s) {' % f.name, indent)
        b.line('struct proto_writer counter;', indent + 1)
        b.line('proto_writer_init_counter(&counter);', indent + 1)
        write_statements(b, f, 'value->%s' % f.name, '&counter', indent + 1)
        b.line('proto_write_uvarint(writer, %d);' % f.tag, indent + 1)
        b.line('proto_write_uvarint(writer, counter.position);', indent + 1)
        write_statements(b, f, 'value->%s' % f.name, 'writer', indent + 1)
        b.line('}', indent)


def is_error_field(field):
    """An error code a response carries: an int16 field named ...ErrorCode (ErrorCode,
    PartitionErrorCode, TopicConfigErrorCode, ...)."""
    return field.kind == 'prim' and field.elem == 'int16' and not field.is_array \
        and field.name.endswith('ErrorCode')


def mark_errors(message):
    """Sets has_errors on each struct of a response that holds an error code, directly or in a
    nested struct (ordered_structs puts the nested ones first)."""
    for s in message.ordered_structs():
        s.has_errors = message.kind == 'response' and any(
            is_error_field(f) or (f.struct is not None and f.struct.has_errors)
            for f in s.fields)


def visit_signature(struct, static):
    return '%svoid %s_visit_errors(const struct %s *value, i16 version, ' \
        'kafka_error_visitor visit, void *context)' \
        % ('static ' if static else '', struct.cname, struct.cname)


def emit_visit_errors(out, struct):
    """Calls visit with every non-zero error code the struct holds in this version, nested
    arrays and structs included, in field order. Reads only the struct: no allocation."""
    def body(b):
        for f in struct.fields:
            if not (is_error_field(f) or (f.struct is not None and f.struct.has_errors)):
                continue
            c = cond(f.versions, struct)
            if c == 'false':
                continue
            indent = 1
            if c != 'true':
                b.line('if (%s) {' % c, 1)
                indent = 2
            value = 'value->%s' % f.name
            if is_error_field(f):
                b.line('if (%s != 0) visit(context, %s);' % (value, value), indent)
            elif f.is_array:
                b.line('for (i32 i = 0; i < %s.count; i++) {' % value, indent)
                b.line('%s_visit_errors(&%s.items[i], version, visit, context);'
                       % (f.struct.cname, value), indent + 1)
                b.line('}', indent)
            elif f.pointer:
                b.line('if (%s != NULL) %s_visit_errors(%s, version, visit, context);'
                       % (value, f.struct.cname, value), indent)
            else:
                b.line('%s_visit_errors(&%s, version, visit, context);'
                       % (f.struct.cname, value), indent)
            if c != 'true':
                b.line('}', 1)
    emit_function(out, visit_signature(struct, not struct.top), body,
                  ['value', 'version', 'visit', 'context'])


def emit_public(out, message):
    s = message.top
    lo, hi = message.valid.lo, message.valid.hi

    def decode_body(b):
        b.line('ASSERT(reader != NULL);', 1)
        b.line('ASSERT(message != NULL);', 1)
        b.line('%s_init(message);' % s.cname, 1)
        b.line('if (version < %d || version > %d) return PROTO_ERROR_UNSUPPORTED_VERSION;'
               % (lo, hi), 1)
        b.line('%s_read(reader, version, message, arena);' % s.cname, 1)
        b.line('return reader->error;', 1)
    emit_function(out, 'enum proto_error %s_decode(struct proto_reader *reader, i16 version, '
                  'struct %s *message, struct proto_arena *arena)' % (s.cname, s.cname),
                  decode_body, [])

    def encode_body(b):
        b.line('ASSERT(writer != NULL);', 1)
        b.line('ASSERT(message != NULL);', 1)
        b.line('if (version < %d || version > %d) return PROTO_ERROR_UNSUPPORTED_VERSION;'
               % (lo, hi), 1)
        b.line('%s_write(writer, version, message);' % s.cname, 1)
        b.line('return writer->error;', 1)
    emit_function(out, 'enum proto_error %s_encode(struct proto_writer *writer, i16 version, '
                  'const struct %s *message)' % (s.cname, s.cname), encode_body, [])


def prepare(messages):
    for m in messages:
        for s in [m.top] + list(m.structs.values()):
            s.valid = None
            for f in s.fields:
                f._message = m
                f._owner = s
        # The versions in which each struct can appear: the union of the versions of the fields
        # that hold it, within the versions of their own struct (parents come first here).
        m.top.valid = m.valid
        for s in reversed(m.ordered_structs()):
            for f in s.fields:
                if f.struct is None or f.versions is None or s.valid is None:
                    continue
                lo, hi = max(f.versions.lo, s.valid.lo), min(f.versions.hi, s.valid.hi)
                if lo > hi:
                    continue
                t = f.struct
                t.valid = Range(lo, hi) if t.valid is None else \
                    Range(min(t.valid.lo, lo), max(t.valid.hi, hi))
        for s in m.structs.values():
            if s.valid is None:
                s.valid = Range(1, 0)  # Never on the wire: every condition is false.
    for m in messages:
        mark_errors(m)
    # Mark which structs need an is_default (tagged struct fields, absent non-ignorable ones).
    for m in messages:
        for s in m.ordered_structs():
            for f in s.fields:
                if f.tagged is not None or (cond(f.versions, s) != 'true' and not f.ignorable):
                    default_check(f, 'x')
    for m in messages:
        for s in m.ordered_structs():
            for f in s.fields:
                if f.is_array and f.kind == 'struct':
                    element_min_size(f)
    # is_default of a struct needs is_default of its inline struct fields.
    changed = True
    while changed:
        changed = False
        for m in messages:
            for s in m.ordered_structs():
                if not s.needs_is_default:
                    continue
                for f in s.fields:
                    if f.kind == 'struct' and not f.pointer and not f.is_array \
                            and not f.struct.needs_is_default:
                        f.struct.needs_is_default = True
                        changed = True


def generated_note(source):
    return ('/* GENERATED by impl/protocol/generate.py, from %s.\n'
            ' * Do not edit: change the generator and run `make protocol-generate`. */' % source)


GENERATED_NOTE = generated_note("Kafka's JSON schemas (kafka-protocol/messages)")


def api_key_name(request_name):
    return 'KAFKA_API_' + upper_snake(re.sub(r'Request$', '', request_name))


def generate_messages_h(messages, requests):
    out = Out()
    out.lines.append(GENERATED_NOTE)
    out.line('/* messages_generated.h: one struct per Kafka message (fields in spec CamelCase),')
    out.line(' * with _init (defaults), _decode and _encode covering every valid version; the')
    out.line(' * api-key enum, the schema facts of every api key, and dispatch by api key.')
    out.line(' *')
    out.line(' * Conventions: strings/bytes are views (size -1 = null); arrays are {items, count}')
    out.line(' * with count -1 = null; a nullable struct field is a pointer (NULL = null). A field')
    out.line(' * absent in a version holds its default after decoding and must hold it to encode')
    out.line(' * (unless the spec marks it ignorable). */')
    out.line('#ifndef PROTOCOL_MESSAGES_GENERATED_H')
    out.line('#define PROTOCOL_MESSAGES_GENERATED_H')
    out.line()
    out.line('#include "codec.h"')
    out.line()
    out.line('/* ===== Api keys (every key in the schemas) ===== */')
    out.line()
    out.line('enum kafka_api_key {')
    for key, name in sorted((r['apiKey'], r['name']) for r in requests):
        out.line('%s = %d,' % (api_key_name(name), key), 1)
    out.line('};')
    out.line()
    max_key = max(r['apiKey'] for r in requests)
    out.line('#define KAFKA_API_KEY_COUNT %d' % (max_key + 1))
    out.line()
    out.line('/* Called by the _visit_errors functions with each non-zero error code a response')
    out.line(' * holds. */')
    out.line('typedef void (*kafka_error_visitor)(void *context, i16 error_code);')
    out.line()
    out.line('/* What the schemas say about one api key (not what the broker advertises). */')
    out.line('struct kafka_api_schema {')
    out.line('const char *name; /* NULL: no such api key. */', 1)
    out.line('i16 version_min;', 1)
    out.line('i16 version_max;', 1)
    out.line('i16 flexible_min; /* First flexible version; -1 when none is. */', 1)
    out.line('bool generated;   /* Request and response codecs exist in this file. */', 1)
    out.line('};')
    out.line()
    out.line('extern const struct kafka_api_schema kafka_api_schemas[KAFKA_API_KEY_COUNT];')
    out.line('/* The schema facts of api_key, or NULL when the key is unknown. */')
    out.line('const struct kafka_api_schema *kafka_api_schema_get(i16 api_key);')
    out.line()
    for m in messages:
        out.line('/* ===== %s (versions %d-%d, flexible %s) ===== */'
                 % (m.name, m.valid.lo, m.valid.hi,
                    'none' if m.flexible is None else '%d+' % m.flexible.lo))
        out.line()
        for s in m.ordered_structs():
            emit_struct_definition(out, s)
        for s in m.ordered_structs():
            out.line('void %s_init(struct %s *value);' % (s.cname, s.cname))
        out.line('WARN_UNUSED enum proto_error %s_decode(struct proto_reader *reader, '
                 'i16 version, struct %s *message, struct proto_arena *arena);'
                 % (m.top.cname, m.top.cname))
        out.line('WARN_UNUSED enum proto_error %s_encode(struct proto_writer *writer, '
                 'i16 version, const struct %s *message);' % (m.top.cname, m.top.cname))
        if m.kind == 'response':
            out.line('/* Every non-zero error code the response holds as sent at version (top '
                     'level, then')
            out.line(' * each nested array and struct, in field order). */')
            out.line(visit_signature(m.top, False) + ';')
        out.line()
    rpc = [m for m in messages if m.kind in ('request', 'response')]
    for kind in ('request', 'response'):
        out.line('/* Any generated %s body, selected by api key. */' % kind)
        out.line('union kafka_%s {' % kind)
        for m in rpc:
            if m.kind == kind:
                base = re.sub(r'(Request|Response)$', '', m.name)
                out.line('struct %s %s;' % (m.top.cname, base), 1)
        out.line('};')
        out.line()
        out.line('/* Decodes the %s body for api_key; PROTO_ERROR_UNKNOWN_API when there is no '
                 'codec. */' % kind)
        out.line('WARN_UNUSED enum proto_error kafka_%s_decode(struct proto_reader *reader, '
                 'i16 api_key, i16 version, union kafka_%s *body, struct proto_arena *arena);'
                 % (kind, kind))
        out.line('WARN_UNUSED enum proto_error kafka_%s_encode(struct proto_writer *writer, '
                 'i16 api_key, i16 version, const union kafka_%s *body);' % (kind, kind))
        out.line()
    out.line('/* The _visit_errors of api_key\'s response (nothing for a key without a codec). */')
    out.line('void kafka_response_visit_errors(i16 api_key, i16 version, '
             'const union kafka_response *body, kafka_error_visitor visit, void *context);')
    out.line()
    out.line('#endif')
    return out.text()


def generate_messages_c(messages, requests):
    out = Out()
    out.lines.append(GENERATED_NOTE)
    out.line('/* messages_generated.c: the codecs declared in messages_generated.h. Each struct')
    out.line(' * has _init (defaults), a static _read and _write over the sticky-error reader and')
    out.line(' * writer of codec.h, and (when a tagged or absent field needs it) _is_default.')
    out.line(' * Tested by tests/unit/test_protocol_messages.c: round trips at every version,')
    out.line(' * every truncation, garbage; and by the fuzz target tests/fuzz/. */')
    out.line('#include "messages_generated.h"')
    out.line()
    out.line('#include <string.h>')
    out.line()
    out.line('const struct kafka_api_schema kafka_api_schemas[KAFKA_API_KEY_COUNT] = {')
    generated = {m.api_key for m in messages if m.kind == 'request'}
    for r in sorted(requests, key=lambda r: r['apiKey']):
        valid = parse_range(r['validVersions'])
        flex = parse_range(r.get('flexibleVersions'))
        out.line('[%s] = {"%s", %d, %d, %d, %s},'
                 % (api_key_name(r['name']), re.sub(r'Request$', '', r['name']), valid.lo,
                    valid.hi, -1 if flex is None else flex.lo,
                    'true' if r['apiKey'] in generated else 'false'), 1)
    out.line('};')
    out.line()
    out.line('const struct kafka_api_schema *kafka_api_schema_get(i16 api_key)')
    out.line('{')
    out.line('if (api_key < 0 || api_key >= KAFKA_API_KEY_COUNT) return NULL;', 1)
    out.line('const struct kafka_api_schema *schema = &kafka_api_schemas[api_key];', 1)
    out.line('if (schema->name == NULL) return NULL;', 1)
    out.line('ASSERT(schema->version_min <= schema->version_max);', 1)
    out.line('return schema;', 1)
    out.line('}')
    out.line()
    for m in messages:
        out.line('/* ===== %s ===== */' % m.name)
        out.line()
        for s in m.ordered_structs():
            out.line('static void %s_read(struct proto_reader *reader, i16 version, '
                     'struct %s *value, struct proto_arena *arena);' % (s.cname, s.cname))
            out.line('static void %s_write(struct proto_writer *writer, i16 version, '
                     'const struct %s *value);' % (s.cname, s.cname))
        out.line()
        for s in m.ordered_structs():
            emit_init(out, s)
            if s.needs_is_default:
                emit_is_default(out, s)
            if s.needs_size_min:
                emit_size_min(out, s)
            emit_read(out, s)
            emit_write(out, s)
            if m.kind == 'response' and (s.has_errors or s.top):
                emit_visit_errors(out, s)
        emit_public(out, m)
    rpc = [m for m in messages if m.kind in ('request', 'response')]
    for kind in ('request', 'response'):
        mine = [m for m in rpc if m.kind == kind]
        out.line('enum proto_error kafka_%s_decode(struct proto_reader *reader, i16 api_key, '
                 'i16 version, union kafka_%s *body, struct proto_arena *arena)' % (kind, kind))
        out.line('{')
        out.line('ASSERT(body != NULL);', 1)
        out.line('switch (api_key) {', 1)
        for m in mine:
            base = re.sub(r'(Request|Response)$', '', m.name)
            out.line('case %s:' % api_key_name(base + 'Request'), 1)
            out.line('return %s_decode(reader, version, &body->%s, arena);'
                     % (m.top.cname, base), 2)
        out.line('default:', 1)
        out.line('return PROTO_ERROR_UNKNOWN_API;', 2)
        out.line('}', 1)
        out.line('}')
        out.line()
        out.line('enum proto_error kafka_%s_encode(struct proto_writer *writer, i16 api_key, '
                 'i16 version, const union kafka_%s *body)' % (kind, kind))
        out.line('{')
        out.line('ASSERT(body != NULL);', 1)
        out.line('switch (api_key) {', 1)
        for m in mine:
            base = re.sub(r'(Request|Response)$', '', m.name)
            out.line('case %s:' % api_key_name(base + 'Request'), 1)
            out.line('return %s_encode(writer, version, &body->%s);' % (m.top.cname, base), 2)
        out.line('default:', 1)
        out.line('return PROTO_ERROR_UNKNOWN_API;', 2)
        out.line('}', 1)
        out.line('}')
        out.line()
    out.line('void kafka_response_visit_errors(i16 api_key, i16 version, '
             'const union kafka_response *body, kafka_error_visitor visit, void *context)')
    out.line('{')
    out.line('ASSERT(body != NULL && visit != NULL);', 1)
    out.line('switch (api_key) {', 1)
    for m in rpc:
        if m.kind != 'response' or not m.top.has_errors:
            continue
        base = re.sub(r'Response$', '', m.name)
        out.line('case %s:' % api_key_name(base + 'Request'), 1)
        out.line('%s_visit_errors(&body->%s, version, visit, context);' % (m.top.cname, base), 2)
        out.line('return;', 2)
    out.line('default:', 1)
    out.line('return; /* No error code in its response, or no codec. */', 2)
    out.line('}', 1)
    out.line('}')
    out.line()
    text = out.text()
    return text.rstrip('\n') + '\n'


# ===== Error codes =====

def generate_errors(tsv_path):
    rows = []
    with open(tsv_path, encoding='utf-8') as f:
        header = f.readline()
        if not header.startswith('code'):
            fail('unexpected error-codes header')
        for line in f:
            if not line.strip():
                continue
            code, name, retriable = line.rstrip('\n').split('\t')[:3]
            rows.append((int(code), name, retriable.strip() == 'yes'))
    rows.sort()
    h = Out()
    note = generated_note('kafka-protocol/error-codes.tsv')
    h.lines.append(note)
    h.line('/* errors_generated.h: every Kafka error code, with its name and whether the Java')
    h.line(' * client retries it. */')
    h.line('#ifndef PROTOCOL_ERRORS_GENERATED_H')
    h.line('#define PROTOCOL_ERRORS_GENERATED_H')
    h.line()
    h.line('#include "../base.h"')
    h.line()
    h.line('enum kafka_error {')
    for code, name, retriable in rows:
        h.line('KAFKA_ERROR_%s = %d,%s' % (name, code, ' /* retriable */' if retriable else ''),
               1)
    h.line('};')
    h.line()
    h.line('#define KAFKA_ERROR_CODE_MIN %d' % rows[0][0])
    h.line('#define KAFKA_ERROR_CODE_MAX %d' % rows[-1][0])
    h.line()
    h.line('/* The spec name ("UNKNOWN_TOPIC_OR_PARTITION"), or NULL for an unknown code. */')
    h.line('const char *kafka_error_name(i16 code);')
    h.line('/* Whether the Java client treats the error as retriable (false when unknown). */')
    h.line('bool kafka_error_retriable(i16 code);')
    h.line()
    h.line('#endif')
    c = Out()
    c.lines.append(h.lines[0])
    c.line('/* errors_generated.c: names and retriable flags of the Kafka error codes. */')
    c.line('#include "errors_generated.h"')
    c.line()
    c.line('struct kafka_error_info {')
    c.line('const char *name;', 1)
    c.line('bool retriable;', 1)
    c.line('};')
    c.line()
    c.line('static const struct kafka_error_info kafka_errors[] = {')
    for code, name, retriable in rows:
        c.line('[%d] = {"%s", %s},' % (code - rows[0][0], name, 'true' if retriable else 'false'),
               1)
    c.line('};')
    c.line()
    c.line('static const struct kafka_error_info *kafka_error_info_get(i16 code)')
    c.line('{')
    c.line('if (code < KAFKA_ERROR_CODE_MIN || code > KAFKA_ERROR_CODE_MAX) return NULL;', 1)
    c.line('u32 index = (u32)(code - KAFKA_ERROR_CODE_MIN);', 1)
    c.line('ASSERT(index < ARRAY_LEN(kafka_errors));', 1)
    c.line('return kafka_errors[index].name == NULL ? NULL : &kafka_errors[index];', 1)
    c.line('}')
    c.line()
    c.line('const char *kafka_error_name(i16 code)')
    c.line('{')
    c.line('const struct kafka_error_info *info = kafka_error_info_get(code);', 1)
    c.line('return info == NULL ? NULL : info->name;', 1)
    c.line('}')
    c.line()
    c.line('bool kafka_error_retriable(i16 code)')
    c.line('{')
    c.line('const struct kafka_error_info *info = kafka_error_info_get(code);', 1)
    c.line('return info != NULL && info->retriable;', 1)
    c.line('}')
    return h.text(), c.text()


# ===== Test helpers =====

def generate_test_header(messages):
    out = Out()
    out.lines.append(GENERATED_NOTE)
    out.line('/* test_protocol_generated.h: for every generated struct, a deterministic filler')
    out.line(' * (only fields present in the version; tagged fields sometimes) and a deep')
    out.line(' * comparison; and a table of every message with uniform entry points. Included by')
    out.line(' * tests/unit/test_protocol_messages.c and tests/fuzz/. Needs test_fill.h first. */')
    out.line('#ifndef TEST_PROTOCOL_GENERATED_H')
    out.line('#define TEST_PROTOCOL_GENERATED_H')
    out.line()
    for m in messages:
        for s in m.ordered_structs():
            out.line('static void fill_%s(struct test_fill *fill, i16 version, struct %s *value);'
                     % (s.cname, s.cname))
            out.line('static bool equal_%s(const struct %s *a, const struct %s *b);'
                     % (s.cname, s.cname, s.cname))
    out.line()
    for m in messages:
        for s in m.ordered_structs():
            emit_test_fill(out, s)
            emit_test_equal(out, s)
    for m in messages:
        c = m.top.cname
        emit_function(out, 'static void test_fill_%s(struct test_fill *fill, i16 version, '
                      'void *message)' % c,
                      lambda b, c=c: b.line('fill_%s(fill, version, message);' % c, 1), [])
        emit_function(out, 'static bool test_equal_%s(const void *a, const void *b)' % c,
                      lambda b, c=c: b.line('return equal_%s(a, b);' % c, 1), [])
        emit_function(out, 'static enum proto_error test_encode_%s(struct proto_writer *writer, '
                      'i16 version, const void *message)' % c,
                      lambda b, c=c: b.line('return %s_encode(writer, version, message);' % c, 1),
                      [])
        emit_function(out, 'static enum proto_error test_decode_%s(struct proto_reader *reader, '
                      'i16 version, void *message, struct proto_arena *arena)' % c,
                      lambda b, c=c: b.line('return %s_decode(reader, version, message, arena);'
                                            % c, 1), [])
    out.line('static const struct test_message test_messages[] = {')
    for m in messages:
        key = m.api_key if m.api_key is not None else -1
        out.line('{"%s", %d, %s, %d, %d, sizeof(struct %s),' % (
            m.name, key, 'true' if m.kind == 'request' else 'false', m.valid.lo, m.valid.hi,
            m.top.cname), 1)
        for role in ('test_fill_%s,', 'test_equal_%s,', 'test_encode_%s,', 'test_decode_%s},'):
            out.lines.append('        ' + role % m.top.cname)
    out.line('};')
    out.line()
    out.line('#endif')
    return out.text()


def fill_value(field, flex, nullable):
    if field.kind == 'prim':
        ctype = PRIMITIVES[field.elem][0]
        if field.elem == 'bool':
            return 'test_fill_next(fill) % 2 == 0'
        if field.elem == 'uuid':
            return 'test_fill_uuid(fill)'
        if field.elem == 'float64':
            return '(double)(i32)test_fill_next(fill) / 8.0'
        return '(%s)test_fill_next(fill)' % ctype
    if field.kind == 'string':
        return 'test_fill_string(fill, %s)' % nullable
    if field.kind == 'bytes':
        return 'test_fill_bytes(fill, %s)' % nullable
    return None


def emit_fill_field(b, field, value, indent):
    m = field._owner
    nullable = cond(field.nullable, m)
    if field.is_array:
        b.line('{', indent)
        b.line('i32 count = test_fill_count(fill, %s);' % nullable, indent + 1)
        b.line('%s.count = count;' % value, indent + 1)
        b.line('%s.items = test_fill_alloc(fill, count, sizeof(*%s.items));' % (value, value),
               indent + 1)
        b.line('for (i32 i = 0; i < count; i++) {', indent + 1)
        item = '%s.items[i]' % value
        if field.kind == 'struct':
            b.line('fill_%s(fill, version, &%s);' % (field.struct.cname, item), indent + 2)
        else:
            b.line('%s = %s;' % (item, fill_value(field, None, 'false')), indent + 2)
        b.line('}', indent + 1)
        b.line('}', indent)
    elif field.kind == 'struct':
        if field.pointer:
            b.line('%s = NULL;' % value, indent)
            b.line('if (!(%s) || test_fill_next(fill) %% 4 != 0) {' % nullable, indent)
            b.line('%s = test_fill_alloc(fill, 1, sizeof(*%s));' % (value, value), indent + 1)
            b.line('fill_%s(fill, version, %s);' % (field.struct.cname, value), indent + 1)
            b.line('}', indent)
        else:
            b.line('fill_%s(fill, version, &%s);' % (field.struct.cname, value), indent)
    else:
        b.line('%s = %s;' % (value, fill_value(field, None, nullable)), indent)


def emit_test_fill(out, struct):
    m = struct

    def body(b):
        b.line('%s_init(value);' % struct.cname, 1)
        for f in struct.fields:
            c = cond(f.versions, m)
            if c == 'false':
                continue
            value = 'value->%s' % f.name
            guard = c
            if f.tagged is not None:
                guard = ('test_fill_next(fill) % 2 == 0' if c == 'true'
                         else '%s && test_fill_next(fill) %% 2 == 0' % c)
            if guard == 'true':
                emit_fill_field(b, f, value, 1)
            else:
                b.line('if (%s) {' % guard, 1)
                emit_fill_field(b, f, value, 2)
                b.line('}', 1)
    emit_function(out, 'static void fill_%s(struct test_fill *fill, i16 version, struct %s '
                  '*value)' % (struct.cname, struct.cname), body, ['fill', 'version'])


def equal_expr(field, a, b):
    if field.kind == 'prim':
        if field.elem == 'uuid':
            return 'memcmp(%s.bytes, %s.bytes, 16) == 0' % (a, b)
        return '%s == %s' % (a, b)
    if field.kind == 'string':
        return 'proto_string_equal(%s, %s)' % (a, b)
    if field.kind == 'bytes':
        return 'proto_bytes_equal(%s, %s)' % (a, b)
    return 'equal_%s(&%s, &%s)' % (field.struct.cname, a, b)


def emit_test_equal(out, struct):
    def body(b):
        b.line('bool same = true;', 1)
        for f in struct.fields:
            a, c = 'a->%s' % f.name, 'b->%s' % f.name
            if f.is_array:
                b.line('same = same && %s.count == %s.count;' % (a, c), 1)
                b.line('for (i32 i = 0; same && i < %s.count; i++) {' % a, 1)
                b.line('same = %s;' % equal_expr(f, '%s.items[i]' % a, '%s.items[i]' % c), 2)
                b.line('}', 1)
            elif f.pointer:
                b.line('same = same && (%s == NULL) == (%s == NULL);' % (a, c), 1)
                b.line('if (same && %s != NULL) {' % a, 1)
                b.line('same = equal_%s(%s, %s);' % (f.struct.cname, a, c), 2)
                b.line('}', 1)
            else:
                b.line('if (same) {', 1)
                b.line('same = %s;' % equal_expr(f, a, c), 2)
                b.line('}', 1)
        b.line('return same;', 1)
    emit_function(out, 'static bool equal_%s(const struct %s *a, const struct %s *b)'
                  % (struct.cname, struct.cname, struct.cname), body, ['a', 'b'])


# ===== Main =====

def write_file(path, text):
    for number, line in enumerate(text.split('\n'), 1):
        if len(line) > 100:
            fail('%s:%d: line over 100 columns: %s' % (path, number, line))
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def main():
    if len(sys.argv) != 5:
        fail('usage: generate.py SCHEMA_DIR ERROR_CODES_TSV OUT_DIR TEST_HEADER')
    schema_dir, errors_tsv, out_dir, test_header = sys.argv[1:]
    specs = {}
    for name in sorted(os.listdir(schema_dir)):
        if name.endswith('.json'):
            spec = load_json(os.path.join(schema_dir, name))
            specs[spec['name']] = (spec, name)
    requests = [spec for spec, _ in specs.values() if spec['type'] == 'request']
    wanted = []
    for base in MESSAGES:
        for suffix in ('Request', 'Response'):
            if base + suffix not in specs:
                fail('no schema for %s%s' % (base, suffix))
            wanted.append(base + suffix)
    for name in DATA_MESSAGES:
        if name not in specs:
            fail('no schema for %s' % name)
        wanted.append(name)
    messages = [Message(*specs[name]) for name in wanted]
    prepare(messages)
    write_file(os.path.join(out_dir, 'messages_generated.h'),
               generate_messages_h(messages, requests))
    write_file(os.path.join(out_dir, 'messages_generated.c'),
               generate_messages_c(messages, requests))
    errors_h, errors_c = generate_errors(errors_tsv)
    write_file(os.path.join(out_dir, 'errors_generated.h'), errors_h)
    write_file(os.path.join(out_dir, 'errors_generated.c'), errors_c)
    write_file(test_header, generate_test_header(messages))


if __name__ == '__main__':
    main()
