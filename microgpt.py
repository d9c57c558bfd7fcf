"""
microgpt: a GPT trained on a list of names, in one file of pure Python.

The first part is the whole algorithm, top to bottom: dataset, tokenizer, a
scalar autograd engine (Value), parameters, the GPT with a KV cache, training
with Adam, sampling. The second part is the program around it: the command
line, the dataset download, checkpoints, and one clear line for each failure.
Left out on purpose, as each would bury the idea: tensors and batches,
biases, LayerNorm (RMSNorm does the job with less), GELU, dropout, weight tying.

It computes the very floating-point numbers of the reference program it
retells, bit for bit; a line written some way only for speed or for those
bits says so. Run it: python3 microgpt.py (--help lists every option).
"""
import math
import random
from functools import reduce
from operator import add, mul

# -----------------------------------------------------------------------------
# Dataset: documents, one per line of a text file (here, one name per line)

def load_docs(path):
    """The non-blank lines of a UTF-8 text file, stripped, in file order."""
    # utf-8 whatever the locale, and '-sig' so that a byte-order mark is not
    # learned as a character; text mode reads \r\n and \r line ends as \n
    with open(path, encoding='utf-8-sig') as f:
        return [line.strip() for line in f if line.strip()]

# -----------------------------------------------------------------------------
# Tokenizer: each distinct character is a token, plus BOS, a token of its own
# that marks both the beginning and the end of a document

def build_vocab(docs):
    """The sorted characters of the dataset; a character's id is its index."""
    return sorted(set(''.join(docs)))

def encode(doc, stoi, BOS):
    """A document as the token ids the model trains on: BOS, its characters, BOS."""
    return [BOS] + [stoi[ch] for ch in doc] + [BOS]

# -----------------------------------------------------------------------------
# Autograd: a Value is a number that remembers the Values it was computed from
# and its local derivative with respect to each; backward() chains them.

class Value:
    # children and local derivatives as data, not closures: no reference cycles
    __slots__ = ('data', 'grad', '_children', '_local_grads')  # no __dict__: nodes are many

    def __init__(self, data, children=(), local_grads=()):
        self.data = data                 # the number, from the forward pass
        self.grad = 0                    # d(loss)/d(self), filled in by backward()
        self._children = children        # the Values this one was computed from
        self._local_grads = local_grads  # d(self)/d(child), one for each child
    def __repr__(self): return f'Value(data={self.data!r}, grad={self.grad!r})'

    def __add__(self, other):  # a + b;  d/da = 1, d/db = 1
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1))
    def __mul__(self, other):  # a * b;  d/da = b, d/db = a
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))
    def __pow__(self, k):  # a ** k for a plain number k;  d/da = k * a ** (k - 1)
        # math.pow is C's pow() everywhere; PyPy turns x ** 2 into x * x, which rounds otherwise
        return Value(math.pow(self.data, k), (self,), (k * math.pow(self.data, k - 1),))
    def log(self): return Value(math.log(self.data), (self,), (1 / self.data,))  # d/da = 1 / a
    def exp(self): return Value(math.exp(self.data), (self,), (math.exp(self.data),))  # exp(a)
    def relu(self): return Value(max(0, self.data), (self,), (float(self.data > 0),))  # 1 or 0

    # built from those exactly as the reference builds them: another way rounds differently
    def __neg__(self): return self * -1
    def __radd__(self, other): return self + other
    def __sub__(self, other): return self + (-other)
    def __rsub__(self, other): return other + (-self)
    def __rmul__(self, other): return self * other
    def __truediv__(self, other): return self * other ** -1
    def __rtruediv__(self, other): return other * self ** -1

    def backward(self):
        # topological order, depth-first with children in recorded order; a stack, as
        # recursion would limit the depth; leaves are left out: they pass nothing on
        topo, visited, stack = [], {self}, [(self, iter(self._children))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child._children and child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child._children)))
                    break
            else:
                topo.append(stack.pop()[0])
        self.grad = 1  # then the chain rule, from the loss down
        for node in reversed(topo):
            for child, local_grad in zip(node._children, node._local_grads):
                child.grad += local_grad * node.grad

# Sums and dot products as one node with many children, for speed: the same numbers
# as the reference's chain of two-input nodes, added in the same order (reduce, as
# sum() of floats compensates rounding from Python 3.12 on), the same gradient for
# each child (the chain passes it on times 1) and the children in the chain's order.

def total(values):  # a0 + a1 + ...;  d/da_i = 1
    return Value(reduce(add, [v.data for v in values], 0), tuple(values), (1,) * len(values))

def dot(a, b):  # a0*b0 + a1*b1 + ...;  d/da_i = b_i, d/db_i = a_i
    a_data, b_data = [ai.data for ai in a], [bi.data for bi in b]
    children, local_grads = [None] * (2 * len(a)), [None] * (2 * len(a))
    children[0::2], children[1::2] = a, b  # (a0, b0, a1, b1, ...): the chain's order
    local_grads[0::2], local_grads[1::2] = b_data, a_data
    return Value(reduce(add, map(mul, a_data, b_data), 0), tuple(children), tuple(local_grads))

# -----------------------------------------------------------------------------
# Parameters: every weight drawn from a normal distribution, row by row, in the
# order of the state_dict, which decides which random number each weight gets

def matrix(nout, nin, std=0.08):
    return [[Value(random.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]

def init_state_dict(vocab_size, n_layer, n_embd, block_size):
    state_dict = {'wte': matrix(vocab_size, n_embd),      # token embeddings
                  'wpe': matrix(block_size, n_embd),      # position embeddings
                  'lm_head': matrix(vocab_size, n_embd)}  # vector -> next-token scores
    for i in range(n_layer):
        state_dict[f'layer{i}.attn_wq'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wk'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wv'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wo'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.mlp_fc1'] = matrix(4 * n_embd, n_embd)
        state_dict[f'layer{i}.mlp_fc2'] = matrix(n_embd, 4 * n_embd)
    return state_dict

def parameters(state_dict):
    """All weights in one flat list, in the order the optimizer walks them."""
    return [p for mat in state_dict.values() for row in mat for p in row]

# -----------------------------------------------------------------------------
# Model: a GPT that reads one token at a time and keeps each layer's keys and
# values of the earlier positions in a cache, for attention to look back at

def linear(x, w):
    """y = W x: one dot product per row of W."""
    return [dot(row, x) for row in w]

def softmax(logits):
    """Scores -> probabilities that are positive and add up to 1."""
    max_val = max(val.data for val in logits)  # shifted so that exp() cannot overflow
    exps = [(val - max_val).exp() for val in logits]
    norm = total(exps)
    return [e / norm for e in exps]

def rmsnorm(x):
    """Rescale x to a root-mean-square of 1, so activations keep their size."""
    ms = dot(x, x) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]

def gpt(token_id, pos_id, keys, values, state_dict, n_head):
    """The next-token scores (logits) after token_id at position pos_id."""
    x = [t + p for t, p in zip(state_dict['wte'][token_id], state_dict['wpe'][pos_id])]
    x = rmsnorm(x)
    head_dim = len(x) // n_head
    for li in range(len(keys)):
        # 1) attention: each head mixes the values of the positions so far,
        #    weighted by how well the query matches each position's key
        x_residual = x
        x = rmsnorm(x)
        q = linear(x, state_dict[f'layer{li}.attn_wq'])
        keys[li].append(linear(x, state_dict[f'layer{li}.attn_wk']))
        values[li].append(linear(x, state_dict[f'layer{li}.attn_wv']))
        x_attn = []
        for h in range(n_head):
            hs = slice(h * head_dim, (h + 1) * head_dim)
            q_h, k_h, v_h = q[hs], [kt[hs] for kt in keys[li]], [vt[hs] for vt in values[li]]
            # divided by sqrt(head_dim), so that wider heads do not make softmax peakier
            attn_weights = softmax([dot(q_h, kt) / head_dim ** 0.5 for kt in k_h])
            x_attn += [dot(attn_weights, [vt[j] for vt in v_h]) for j in range(head_dim)]
        x = linear(x_attn, state_dict[f'layer{li}.attn_wo'])
        x = [a + b for a, b in zip(x, x_residual)]
        # 2) MLP: think about what was gathered, one position at a time
        x_residual = x
        x = rmsnorm(x)
        x = [xi.relu() for xi in linear(x, state_dict[f'layer{li}.mlp_fc1'])]
        x = linear(x, state_dict[f'layer{li}.mlp_fc2'])
        x = [a + b for a, b in zip(x, x_residual)]
    return linear(x, state_dict['lm_head'])

# -----------------------------------------------------------------------------
# Training: the loss of a document is the mean over its positions of -log(the
# probability given to the right next token); Adam moves every weight downhill

beta1 = 0.85     # Adam's memory of past gradients (momentum)
beta2 = 0.99     # Adam's memory of past squared gradients (a per-weight scale)
eps_adam = 1e-8  # keeps the step finite where a gradient has always been 0

def doc_loss(tokens, state_dict, n_layer, n_head, block_size):
    """The mean next-token loss over one document, as a graph ready for backward()."""
    n = min(block_size, len(tokens) - 1)  # a document longer than the context is cut
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    losses = []
    for pos_id in range(n):
        token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
        probs = softmax(gpt(token_id, pos_id, keys, values, state_dict, n_head))
        losses.append(-probs[target_id].log())
    return (1 / n) * total(losses)

def adam_step(params, m, v, step, num_steps, learning_rate):
    """Update every parameter from its gradient, then zero the gradient."""
    lr_t = learning_rate * (1 - step / num_steps)  # linear decay: big steps first, small last
    # the bias corrections undo m's and v's pull towards their start at 0; powers by
    # math.pow, as in Value: g * g, or PyPy's g ** 2, can round differently
    correction1, correction2 = 1 - math.pow(beta1, step + 1), 1 - math.pow(beta2, step + 1)
    for i, p in enumerate(params):
        m[i] = beta1 * m[i] + (1 - beta1) * p.grad
        v[i] = beta2 * v[i] + (1 - beta2) * math.pow(p.grad, 2)
        m_hat = m[i] / correction1
        v_hat = v[i] / correction2
        p.data -= lr_t * m_hat / (v_hat ** 0.5 + eps_adam)
        p.grad = 0

def train(docs, stoi, BOS, state_dict, m, v, steps, num_steps, learning_rate,
          n_layer, n_head, block_size):
    """Take the training steps numbered in `steps`, one document each, and
    yield (step, loss) as soon as each step's update is done."""
    params = parameters(state_dict)
    for step in steps:
        tokens = encode(docs[step % len(docs)], stoi, BOS)
        loss = doc_loss(tokens, state_dict, n_layer, n_head, block_size)
        loss.backward()
        adam_step(params, m, v, step, num_steps, learning_rate)
        yield step, loss.data

# -----------------------------------------------------------------------------
# Sampling: from BOS, draw one token at a time until the model draws BOS again

def sample(state_dict, n_layer, n_head, block_size, BOS, temperature, prompt=()):
    """A new document as token ids: those of the prompt, then the model's own."""
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    token_id, out = BOS, []
    for pos_id in range(block_size):
        logits = gpt(token_id, pos_id, keys, values, state_dict, n_head)
        if pos_id < len(prompt):  # the prompt gives the next token: nothing to draw
            token_id = prompt[pos_id]
        else:
            # temperature: below 1 sharpens the distribution, above 1 flattens it
            probs = softmax([l / temperature for l in logits])
            token_id = random.choices(range(BOS + 1), weights=[p.data for p in probs])[0]
            if token_id == BOS:  # the model ended the document
                break
        out.append(token_id)
    return out

# =============================================================================
# The program: the command line, the dataset download, checkpoints, and each
# failure said in one line on stderr. Nothing above depends on what follows.

import argparse, gc, json, os, re, shlex, stat, sys, tempfile

DEFAULT_INPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'input.txt')
NAMES_URL = 'https://raw.githubusercontent.com/karpathy/makemore/988aa59/names.txt'
NAMES_SHA256 = '0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d'
CHECKPOINT = 'microgpt checkpoint'  # the "format" of the JSON files that --save writes
FIXED = ('n_layer', 'n_embd', 'n_head', 'block_size', 'learning_rate')  # what --load cannot change
RUN = FIXED + ('num_steps', 'seed')  # what a checkpoint keeps of the run's settings

def fail(message, status=2):
    print(f'microgpt.py: error: {message}', file=sys.stderr)  # one line: bad input is no crash
    sys.exit(status)

def whole(least):
    """An argparse type: a whole number, at least `least`."""
    def parse(text):
        if int(text) < least:  # a ValueError makes argparse say "invalid whole number value"
            raise argparse.ArgumentTypeError(f'must be at least {least}, got {text}')
        return int(text)
    parse.__name__ = 'whole number'
    return parse

def number(text):
    """An argparse type: a finite number above 0."""
    if not 0 < float(text) < math.inf:
        raise argparse.ArgumentTypeError(f'must be a finite number above 0, got {text}')
    return float(text)

OPTIONS = [  # name, metavar, type, default, what it does
    ('input', 'FILE', str, DEFAULT_INPUT, 'UTF-8 text file, one document per line; the names '
     'list, the default, is downloaded if missing'),
    ('seed', 'N', whole(0), 42, 'seeds the shuffle, the initial weights and the sampling'),
    ('n_layer', 'N', whole(1), 1, 'transformer blocks, one after the other'),
    ('n_embd', 'N', whole(1), 16, "width of every token's vector"),
    ('block_size', 'N', whole(1), 16, 'longest context in tokens; longer documents are cut'),
    ('n_head', 'N', whole(1), 4, 'attention heads, each on n_embd // n_head dimensions'),
    ('learning_rate', 'X', number, 0.01, "Adam's first step size; it falls to 0"),
    ('num_steps', 'N', whole(0), 1000, 'training steps, one document each; 0 only samples'),
    ('temperature', 'X', number, 0.5, 'below 1 sharpens the distribution, above 1 '
     'flattens it; one too small to divide by is refused'),
    ('num_samples', 'N', whole(0), 20, 'how many new documents to invent after training'),
    ('prompt', 'TEXT', str, '', 'every sample starts with TEXT, read by the model before it draws'),
    ('save', 'FILE', str, None, 'write the model and the state of training to FILE, as JSON, '
     'when training ends or Ctrl-C stops it'),
    ('load', 'FILE', str, None, 'go on from a FILE written by --save (see below)')]
LOAD_RULES = """With --load FILE, the model, the vocabulary and the run are FILE's: training
goes on from the step FILE reached to its --num_steps, bit for bit as if it had
never stopped, on the dataset FILE names (or --input, which must hold the same
documents). The model options and --learning_rate cannot change; --num_steps=0
only samples, with no dataset; --seed draws other samples."""

def parse_args(argv):
    parser = argparse.ArgumentParser(description='Train a tiny GPT on a text file, one document '
                                     'per line, then sample from it.', epilog=LOAD_RULES)
    parser.error = lambda message: fail(f'{message}; see --help')  # one line, not a usage dump
    for name, metavar, kind, default, what in OPTIONS:  # left at None: "not given", for --load
        shown = f' (default: {default})' if default not in (None, '') else ''
        parser.add_argument('--' + name, metavar=metavar, type=kind, help=what + shown)
    return parser.parse_args(argv)

def settle(args, ck):
    """Refuse options that contradict the checkpoint or each other; fill in the
    rest from the checkpoint, else from the defaults."""
    if ck:
        fixed = [name for name in FIXED if getattr(args, name) is not None]
        if fixed or args.num_steps not in (None, 0):
            name = (fixed + ['num_steps'])[0]
            fail(f'--{name} comes from {args.load} (which says {ck["run"][name]}); leave it out'
                 + (name == 'num_steps') * ', or pass --num_steps=0 to only sample')
    saved = dict(ck['run'], input=ck['dataset']['path']) if ck else {}
    for name, _, _, default, _ in OPTIONS:
        if getattr(args, name) is None:
            setattr(args, name, saved.get(name, default))
    if args.n_embd % args.n_head:
        fail(f'--n_embd={args.n_embd} must be divisible by --n_head={args.n_head}, '
             f'so that every head gets the same number of dimensions')
    if 1 / args.temperature == math.inf:
        fail(f'--temperature={args.temperature} is so small that dividing by it overflows')

def read_docs(path):
    hint = 'pass --input=FILE with a text file, one document per line'
    if not os.path.exists(path) or os.path.isdir(path):
        fail(f'{path} {"is a directory" if os.path.isdir(path) else "does not exist"}; {hint}')
    if stat.S_ISCHR(os.stat(path).st_mode) or stat.S_ISBLK(os.stat(path).st_mode):
        fail(f'{path} is a device, not a file; {hint}')  # /dev/zero would never end
    try:
        docs = load_docs(path)
    except UnicodeDecodeError as e:
        fail(f'{path} is not UTF-8 text ({e.reason}); save it with the UTF-8 encoding')
    except OSError as e:
        fail(f'cannot read {path}: {e.strerror}')
    if not docs:
        fail(f'{path} has no documents, every line is blank; {hint}')
    return docs

def write_whole(path, data):
    """Write bytes to path through a temporary file beside it, renamed only once
    complete: path holds its old content or the new, never a part."""
    fd, partial = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(partial, 0o644)  # mkstemp makes it private; it is no secret
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):  # anything went wrong before the rename
            os.remove(partial)

def fingerprint(docs):  # enough of a dataset to know it again
    import hashlib  # only here, as below: it would cost every run 3 MB of memory
    return hashlib.sha256('\n'.join(docs).encode()).hexdigest()

def download_names(path):
    import hashlib, http.client, urllib.request  # only here: they cost every other run memory
    print(f'microgpt.py: {path} is missing; downloading the names list from {NAMES_URL}',
          file=sys.stderr)
    hint = f'put a text file at {path} or pass --input=FILE'
    try:
        with urllib.request.urlopen(NAMES_URL, timeout=30) as response:
            content = response.read()
        if hashlib.sha256(content).hexdigest() != NAMES_SHA256:
            fail(f'{NAMES_URL} sent something other than the names list; {hint}')
        write_whole(path, content)
    except (OSError, http.client.HTTPException) as e:
        fail(f'could not download {NAMES_URL} to {path} ({e}); {hint}')

def check_save(path):
    """Refuse a --save FILE now, not after an hour of training: FILE must be new,
    empty or an earlier checkpoint, in a folder we can write to."""
    try:
        head = b''
        if os.path.lexists(path):
            with open(path, 'rb') as f:
                head = f.read(64)
        tempfile.TemporaryFile(dir=os.path.dirname(os.path.abspath(path))).close()
    except OSError as e:  # a directory, a missing folder, no permission
        fail(f'--save {path} cannot be written ({e.strerror}); name another file')
    if head and CHECKPOINT.encode() not in head:
        fail(f'--save {path} would replace a file that is not a checkpoint; name another file')

def count_params(vocab_size, n_layer, n_embd, block_size):  # as init_state_dict makes them
    return n_embd * (2 * vocab_size + block_size + 12 * n_layer * n_embd)

def a_number(x):  # a number from a checkpoint: no text, no null, no NaN
    if type(x) not in (int, float):
        raise ValueError(f'{x!r} is not a number')
    return float(x)

def read_checkpoint(path):
    """A file written by --save, with its model and Adam's buffers rebuilt, all
    checked before any work; a file that is not a usable one gets one line."""
    def refuse(why):
        fail(f'--load {path} {why}; pass a file written by --save')
    try:
        with open(path, encoding='utf-8') as f:  # NaN and Infinity are no numbers here
            ck = json.load(f, parse_constant=a_number)
    except OSError as e:
        refuse(f'cannot be read ({e.strerror})')
    except (json.JSONDecodeError, UnicodeDecodeError) as e:  # a file cut short, too
        refuse(f'is not JSON ({e})')
    except ValueError as e:
        refuse(f'is not usable: {e}')
    if not isinstance(ck, dict) or ck.get('format') != CHECKPOINT:
        refuse('is not a microgpt checkpoint')
    try:
        run, vocab, saved = ck['run'], ck['vocab'], ck['state_dict']
        whole = [run[name] for name in RUN if name != 'learning_rate'] + [ck['step']]
        if any(type(x) is not int or x < 0 for x in whole) or 0 in whole[:4] or \
                run['n_embd'] % run['n_head'] or ck['step'] > run['num_steps'] or \
                not 0 < a_number(run['learning_rate']) < math.inf or not isinstance(vocab, str):
            raise ValueError('its settings cannot work')
        shape = (len(vocab) + 1, run['n_layer'], run['n_embd'], run['block_size'])
        n = count_params(*shape)
        if sum(len(row) for rows in saved.values() for row in rows) != n:  # before any allocation
            raise ValueError(f'it does not hold the {n} weights its settings make')
        state_dict = init_state_dict(*shape)
        for name, mat in state_dict.items():
            if [len(row) for row in saved[name]] != [len(row) for row in mat]:
                raise ValueError(f'{name} is not {len(mat)} x {len(mat[0])}')
            for row, saved_row in zip(mat, saved[name]):
                for p, x in zip(row, saved_row):
                    p.data = a_number(x)
        m, v = [a_number(x) for x in ck['adam_m']], [a_number(x) for x in ck['adam_v']]
        if len(m) != n or len(v) != n:
            raise ValueError(f"Adam's buffers are not {n} numbers each")
        state = ck['random_state']  # JSON has lists where random.setstate wants tuples
        ck['random_state'] = (state[0], tuple(state[1]), state[2])
        random.Random().setstate(ck['random_state'])  # raises if it is no state of a generator
        dataset = ck['dataset']
        if not (isinstance(dataset['path'], str) and isinstance(dataset['sha256'], str)
                and type(dataset['num_docs']) is int):
            raise ValueError('its dataset is not described')
    except (LookupError, TypeError, ValueError, ArithmeticError, AttributeError) as e:
        refuse(f'lacks {e}' if isinstance(e, KeyError) else f'is not usable: {e}')
    return ck, (state_dict, m, v)

def write_checkpoint(path, ck):
    text = json.dumps(ck, indent=1, allow_nan=False)
    # each list of numbers on one line (a row of a matrix), for a person to read
    text = re.sub(r'\[\s+([^][{}"]*?)\s+\]', lambda m: '[' + ' '.join(m[1].split()) + ']', text)
    try:
        write_whole(path, text.encode())
    except OSError as e:
        fail(f'could not save {path} ({e.strerror})', status=1)

def check_memory(n_params, block_size):
    """Refuse a model too big for this machine, or for the limit set by `ulimit`,
    before it fills the memory: a weight takes about 200 bytes, and 80 more at
    each position of a step's graph."""
    need, sizes = n_params * (200 + 80 * block_size), []
    try:  # not every system tells
        sizes.append(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))
        import resource
        sizes += [resource.getrlimit(resource.RLIMIT_AS)[0],
                  resource.getrlimit(resource.RLIMIT_DATA)[0]]
    except (AttributeError, ValueError, OSError, ImportError):
        pass
    have = min([size for size in sizes if size > 0] or [math.inf])  # RLIM_INFINITY is -1
    if need > have:
        fail(f'a model of {n_params:,} weights needs about {need / 2**30:,.0f} GiB of memory '
             f'to train, more than the {have / 2**30:,.0f} GiB here; make it smaller')

def resume_command(args):
    """The command that goes on from the checkpoint in args.save, as this run would have."""
    defaults = {name: default for name, _, _, default, _ in OPTIONS}
    words = [os.path.basename(sys.executable), sys.argv[0], '--load', args.save]
    words += ['--save', args.save]
    words += [f'--{name}={getattr(args, name)}' for name in ('temperature', 'num_samples', 'prompt')
              if getattr(args, name) != defaults[name]]  # the sampling is not in the checkpoint
    return ' '.join(shlex.quote(word) for word in words)

def interrupted(note=''):
    print()  # ends the progress line
    print(f'microgpt.py: interrupted{note}', file=sys.stderr)
    sys.exit(130)  # 128 + SIGINT, as a shell reports a Ctrl-C

def main(argv=()):
    """Read the documents, build the model, train it, sample from it."""
    args = parse_args(argv)
    ck, (state_dict, m, v) = read_checkpoint(args.load) if args.load else (None, (None,) * 3)
    reseed = ck is not None and args.seed is not None  # with --load: other samples
    settle(args, ck)
    if args.save:
        check_save(args.save)
    run = ck['run'] if ck else {name: getattr(args, name) for name in RUN}
    start = ck['step'] if ck else 0
    steps = range(start, run['num_steps'] if args.num_steps else start)
    docs, dataset = [], ck and ck['dataset']
    if steps or not ck:  # sampling alone needs no dataset
        if args.input == DEFAULT_INPUT and not os.path.exists(DEFAULT_INPUT):
            download_names(DEFAULT_INPUT)
        docs = read_docs(args.input)
        dataset = {'path': os.path.abspath(args.input), 'num_docs': len(docs)}
        if ck or args.save:
            dataset['sha256'] = fingerprint(docs)
        if ck and dataset['sha256'] != ck['dataset']['sha256']:
            fail(f"{args.input} does not hold the documents {args.load} was trained on "
                 f"({ck['dataset']['path']}); pass those as --input")
        random.seed(run['seed'])
        random.shuffle(docs)
    chars = list(ck['vocab']) if ck else build_vocab(docs)
    stoi, BOS = {ch: i for i, ch in enumerate(chars)}, len(chars)
    unknown = ''.join(sorted(set(args.prompt) - set(chars)))
    if unknown:
        fail(f'--prompt {args.prompt!r}: {unknown!r} is not in the vocabulary {"".join(chars)!r}')
    if len(args.prompt) >= args.block_size:
        fail(f'--prompt is {len(args.prompt)} characters long and leaves no position to draw '
             f'in a block of {args.block_size}; shorten it')
    if ck:
        random.setstate(ck['random_state'])  # where the saved run left the generator
    else:
        n = count_params(BOS + 1, args.n_layer, args.n_embd, args.block_size)
        check_memory(n, args.block_size)
        state_dict = init_state_dict(BOS + 1, args.n_layer, args.n_embd, args.block_size)
        m, v = [0.0] * n, [0.0] * n  # Adam's running means of each gradient and its square
    params = parameters(state_dict)
    print(f"num docs: {dataset['num_docs']}\nvocab size: {BOS + 1}\nnum params: {len(params)}")

    def checkpoint(step):  # all that sampling and going on need, as plain data
        return {'format': CHECKPOINT, 'version': 1, 'run': run, 'step': step,
                'dataset': dataset, 'vocab': ''.join(chars), 'adam_m': m[:], 'adam_v': v[:],
                'state_dict': {k: [[p.data for p in row] for row in mat]
                               for k, mat in state_dict.items()},
                'random_state': random.getstate()}
    # kept: the last finished step, what Ctrl-C saves, since it may land in mid-update
    done, kept = start, args.save and checkpoint(start)
    try:
        for step, loss in train(docs, stoi, BOS, state_dict, m, v, steps, run['num_steps'],
                                run['learning_rate'], args.n_layer, args.n_head, args.block_size):
            if not math.isfinite(loss):
                raise ArithmeticError(f'the loss is {loss}')
            print(f"step {step+1:4d} / {run['num_steps']:4d} | loss {loss:.4f}", end='\r')
            done, kept = step + 1, args.save and checkpoint(step + 1)  # in one assignment
    except (ArithmeticError, ValueError) as e:
        print()
        fail(f'training diverged at step {done + 1} ({e}); try a smaller --learning_rate')
    except KeyboardInterrupt:
        if not args.save:
            raise
        write_checkpoint(args.save, kept)
        interrupted(f"; step {kept['step']} of {run['num_steps']} is saved in {args.save}; "
                    f"go on with: {resume_command(args)}")
    # the last update may still have thrown the weights too far: one forward pass shows it
    keys, values = [[] for _ in range(args.n_layer)], [[] for _ in range(args.n_layer)]
    scores = gpt(BOS, 0, keys, values, state_dict, args.n_head)
    if not all(math.isfinite(x.data) for x in params + scores):
        print()
        fail(f'the weights no longer give finite scores: training diverged; try a smaller '
             f'--learning_rate than {run["learning_rate"]}')
    if args.save:
        write_checkpoint(args.save, checkpoint(done))

    if reseed:
        random.seed(args.seed)
    print("\n--- inference (new, hallucinated names) ---")
    prompt = [stoi[ch] for ch in args.prompt]
    for sample_idx in range(args.num_samples):
        ids = sample(state_dict, args.n_layer, args.n_head, args.block_size, BOS,
                     args.temperature, prompt)
        print(f"sample {sample_idx+1:2d}: {''.join(chars[i] for i in ids)}")

if __name__ == '__main__':
    if sys.version_info < (3, 8):  # the file still parses on 3.6 and 3.7, so it can say so
        sys.exit(f'microgpt.py: error: needs Python 3.8 or newer, not {sys.version.split()[0]}')
    # The graph has no reference cycles, so CPython's reference counting alone
    # frees each step's nodes, and its cycle collector would only scan them again
    # and again: pausing it saves about a tenth of the time. PyPy frees nothing
    # without its collector, so there it stays on.
    if sys.implementation.name == 'cpython':
        gc.disable()
    try:
        if sys.stdout:  # None when started with stdout closed: then nothing is printed
            sys.stdout.reconfigure(encoding='utf-8')  # a dataset in any script prints anywhere
        main(sys.argv[1:])
        if sys.stdout:
            sys.stdout.flush()  # here, where a failure to write can still be said
    except KeyboardInterrupt:  # Ctrl-C: stop at once; the progress line shows the step
        interrupted()
    except OSError as e:  # the files we read and write say their own: this one is stdout
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # or exit fails again
        if isinstance(e, BrokenPipeError):  # the reader stopped early, as `| head` does
            sys.exit(1)
        fail(f'cannot write the output ({e.strerror})', status=1)
    except MemoryError:
        fail('out of memory; try a smaller model (--n_embd, --n_layer, --block_size) or dataset')
    except (ArithmeticError, ValueError) as e:  # while sampling: training says its own
        fail(f'sampling broke down ({e}); try a --temperature nearer 1')
