"""microgpt: a GPT trained on a list of names, in one file of plain Python.

First the lecture, the whole algorithm and a whole run, top to bottom; then the
program around it: the command line, checkpoints, instruments for learners, and
one clear line for each failure. Left out on purpose, as each would bury the idea:
tensors and batches, biases, LayerNorm (RMSNorm does with less), GELU, dropout,
weight tying. Run it: python3 microgpt.py (--help lists the options).
"""
import math
import random
from functools import reduce
from operator import add, mul
from types import SimpleNamespace

# Settings: what a run may choose; the command line can change each (see --help)
settings = SimpleNamespace(
    seed=42,             # one seed for all chance: the shuffle, the weights, the samples
    n_layer=1,           # depth: how many transformer blocks, one after the other
    n_embd=16,           # width: the length of the vector that stands for each token
    block_size=16,       # the longest context the model sees (input.txt's longest name: 15)
    n_head=4,            # attention heads, each looking at n_embd // n_head dimensions
    learning_rate=0.01,  # Adam's first step size; it falls linearly to 0 by the last step
    num_steps=1000,      # training steps, one document each
    temperature=0.5,     # sampling: below 1 plays safe, above 1 takes chances
    num_samples=20,      # how many new documents to invent
    prompt='',           # text that every sample starts with
)

# Dataset: documents, one per line of a text file (here, one name per line)
def load_docs(path):
    """The non-blank lines of a UTF-8 text file, stripped, in file order."""
    with open(path, encoding='utf-8-sig') as f:  # -sig: a byte-order mark is no letter
        return [line.strip() for line in f if line.strip()]

def shuffle(docs, seed):
    random.seed(seed)  # all chance in a run follows from here: the shuffle, weights, samples
    random.shuffle(docs)

# Tokenizer: each distinct character is a token; BOS, one more, opens and closes a document
def build_vocab(docs):
    """The sorted characters of the dataset; a character's id is its index."""
    return sorted(set(''.join(docs)))

def encode(doc, chars):
    BOS = len(chars)
    return [BOS] + [chars.index(ch) for ch in doc] + [BOS]

def decode(ids, chars):
    return ''.join(chars[i] for i in ids)

# Autograd: a Value remembers what it was computed from, and the local derivatives
class Value:
    __slots__ = ('data', 'grad', '_children', '_local_grads')

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
    def __pow__(self, k):  # a ** k, k a plain number;  d/da = k * a ** (k - 1) (math.pow: Notes)
        return Value(math.pow(self.data, k), (self,), (k * math.pow(self.data, k - 1),))
    def log(self): return Value(math.log(self.data), (self,), (1 / self.data,))  # d/da = 1 / a
    def exp(self): return Value(math.exp(self.data), (self,), (math.exp(self.data),))  # = exp(a)
    def relu(self): return Value(max(0, self.data), (self,), (float(self.data > 0),))  # 1, or 0

    # the rest are made of the operations above, just so (the Notes say why)
    def __neg__(self): return self * -1
    def __radd__(self, other): return self + other
    def __sub__(self, other): return self + (-other)
    def __rsub__(self, other): return other + (-self)
    def __rmul__(self, other): return self * other
    def __truediv__(self, other): return self * other ** -1
    def __rtruediv__(self, other): return other * self ** -1

    def backward(self):
        # every node after the nodes it was made from: depth-first, on a stack
        topo, visited, stack = [], {self}, [(self, iter(self._children))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child._children and child not in visited:  # a leaf passes nothing on
                    visited.add(child)
                    stack.append((child, iter(child._children)))
                    break
            else:
                topo.append(stack.pop()[0])
        self.grad = 1  # then the chain rule, from the loss down to every weight
        for node in reversed(topo):
            for child, local_grad in zip(node._children, node._local_grads):
                child.grad += local_grad * node.grad

def total(values):  # a0 + a1 + ... as one node;  d/da_i = 1
    return Value(reduce(add, [v.data for v in values], 0), tuple(values), (1,) * len(values))

def dot(a, b):  # a0*b0 + a1*b1 + ... as one node, as a matmul is one operation;  d/da_i = b_i
    a_data, b_data = [ai.data for ai in a], [bi.data for bi in b]
    children, local_grads = [None] * (2 * len(a)), [None] * (2 * len(a))
    children[0::2], children[1::2] = a, b  # a0, b0, a1, b1, ...
    local_grads[0::2], local_grads[1::2] = b_data, a_data
    return Value(reduce(add, map(mul, a_data, b_data), 0), tuple(children), tuple(local_grads))

# Parameters: the model's knowledge, drawn at random, row by row, in state_dict order
def matrix(nout, nin, std=0.08):
    return [[Value(random.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]

def init_state_dict(vocab_size, config, matrix=matrix):  # the program sizes models by `matrix`
    n_embd, block_size = config.n_embd, config.block_size
    state_dict = {'wte': matrix(vocab_size, n_embd),      # token embeddings
                  'wpe': matrix(block_size, n_embd),      # position embeddings
                  'lm_head': matrix(vocab_size, n_embd)}  # vector -> next-token scores
    for i in range(config.n_layer):
        state_dict[f'layer{i}.attn_wq'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wk'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wv'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wo'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.mlp_fc1'] = matrix(4 * n_embd, n_embd)
        state_dict[f'layer{i}.mlp_fc2'] = matrix(n_embd, 4 * n_embd)
    return state_dict

def parameters(state_dict):  # the weights that training moves, in one flat list
    return [p for mat in state_dict.values() for row in mat for p in row]

# Model: a GPT reading one token at a time, with a KV cache for attention to look back at
def linear(x, w):  # y = W x: one dot product per row of W
    return [dot(row, x) for row in w]

def softmax(logits):  # scores -> probabilities that are positive and add up to 1
    max_val = max(val.data for val in logits)  # shifted, so that exp() cannot overflow
    exps = [(val - max_val).exp() for val in logits]
    norm = total(exps)
    return [e / norm for e in exps]

def rmsnorm(x):  # rescaled to a root-mean-square of 1, so activations keep their size
    ms = dot(x, x) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]

def kv_cache(config):  # for each layer: the keys, and the values, of the positions so far
    return [[] for _ in range(config.n_layer)], [[] for _ in range(config.n_layer)]

def attention(x, li, keys, values, state_dict, config):
    """Each head mixes the values so far, weighted by how well its query fits each key."""
    q = linear(x, state_dict[f'layer{li}.attn_wq'])
    k = linear(x, state_dict[f'layer{li}.attn_wk'])
    v = linear(x, state_dict[f'layer{li}.attn_wv'])
    keys[li].append(k)
    values[li].append(v)
    head_dim = config.n_embd // config.n_head
    x_attn = []  # no mask needed: the cache holds only this position and those before it
    for h in range(config.n_head):
        hs = slice(h * head_dim, (h + 1) * head_dim)
        q_h, k_h, v_h = q[hs], [kt[hs] for kt in keys[li]], [vt[hs] for vt in values[li]]
        # divided by sqrt(head_dim), so that wider heads do not make softmax peakier
        attn_weights = softmax([dot(q_h, kt) / head_dim ** 0.5 for kt in k_h])
        x_attn += [dot(attn_weights, [vt[j] for vt in v_h]) for j in range(head_dim)]
    return linear(x_attn, state_dict[f'layer{li}.attn_wo'])

def gpt(token_id, pos_id, keys, values, state_dict, config):
    """The scores (logits) of every possible next token after token_id at pos_id."""
    tok_emb = state_dict['wte'][token_id]  # what the token is
    pos_emb = state_dict['wpe'][pos_id]    # where it is
    x = [t + p for t, p in zip(tok_emb, pos_emb)]
    x = rmsnorm(x)  # not redundant: the residual connections below go around the later norms
    for li in range(config.n_layer):
        # 1) attention: gather what the earlier positions hold
        x_residual = x
        x = attention(rmsnorm(x), li, keys, values, state_dict, config)
        x = [a + b for a, b in zip(x, x_residual)]
        # 2) MLP: think about what was gathered, one position at a time
        x_residual = x
        x = linear(rmsnorm(x), state_dict[f'layer{li}.mlp_fc1'])
        x = [xi.relu() for xi in x]
        x = linear(x, state_dict[f'layer{li}.mlp_fc2'])
        x = [a + b for a, b in zip(x, x_residual)]
    return linear(x, state_dict['lm_head'])

# Training: a document's loss is the mean of -log(probability of the true next token)
beta1, beta2, eps_adam = 0.85, 0.99, 1e-8  # Adam's memories of gradients and squares

def doc_loss(tokens, state_dict, config):
    n = min(config.block_size, len(tokens) - 1)  # a document longer than the context is cut
    keys, values = kv_cache(config)
    losses = []
    for pos_id in range(n):
        token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
        probs = softmax(gpt(token_id, pos_id, keys, values, state_dict, config))
        losses.append(-probs[target_id].log())
    return (1 / n) * total(losses)

def init_adam(params):  # running means of each gradient (m) and of its square (v)
    return [0.0] * len(params), [0.0] * len(params)

def adam_step(params, m, v, step, config):
    lr_t = config.learning_rate * (1 - step / config.num_steps)  # big steps first, small last
    # the bias corrections undo m's and v's pull towards their start at 0
    correction1, correction2 = 1 - math.pow(beta1, step + 1), 1 - math.pow(beta2, step + 1)
    for i, p in enumerate(params):
        m[i] = beta1 * m[i] + (1 - beta1) * p.grad
        v[i] = beta2 * v[i] + (1 - beta2) * math.pow(p.grad, 2)
        m_hat = m[i] / correction1
        v_hat = v[i] / correction2
        p.data -= lr_t * m_hat / (v_hat ** 0.5 + eps_adam)
        p.grad = 0

def train(docs, chars, state_dict, m, v, config, start=0):
    """One document a step, from `start` on; yields each step and loss once it is done."""
    params = parameters(state_dict)
    for step in range(start, config.num_steps):
        tokens = encode(docs[step % len(docs)], chars)
        loss = doc_loss(tokens, state_dict, config)
        loss.backward()
        adam_step(params, m, v, step, config)
        yield step, loss.data

# Sampling: from BOS, draw one token at a time until the model draws BOS again
def sample(state_dict, chars, config):
    """A new document: the prompt, then the characters the model draws."""
    BOS = len(chars)
    keys, values = kv_cache(config)
    token_id, out = BOS, []
    for pos_id in range(config.block_size):
        logits = gpt(token_id, pos_id, keys, values, state_dict, config)
        if pos_id < len(config.prompt):  # the prompt gives the next token: nothing to draw
            token_id = chars.index(config.prompt[pos_id])
        else:  # scores divided by the temperature, then a draw from their softmax
            probs = softmax([l / config.temperature for l in logits])
            token_id = random.choices(range(BOS + 1), weights=[p.data for p in probs])[0]
            if token_id == BOS:  # the model ended the document
                break
        out.append(token_id)
    return decode(out, chars)

# =============================================================================
# The program: the command line, the download, checkpoints, the learner's
# instruments, and each failure in one line on stderr. It follows whatever the
# lecture builds: shapes come from init_state_dict(), settings from `settings`.
#
# Notes: why the lecture is written the way it is.
# - The bits: on the same settings it computes the original program's very numbers,
#   on CPython 3.8 to 3.13 and PyPy, as it keeps the original's operations in their
#   order: -a is a * -1, a - b is a + (-b), a / b is a * b ** -1 (a new power node
#   for each division), the loss is (1 / n) * the sum. Other ways round otherwise.
# - total() and dot() are one node where the original chains two-input additions:
#   the same numbers added in the same order (reduce, as sum() of floats compensates
#   its rounding from Python 3.12 on), the same gradient for each child, in the same
#   order. That made the run about 7x as fast (dot's slice assignment 1.14x more).
# - math.pow is C's pow() everywhere; PyPy computes x ** 2 as x * x, which rounds
#   differently about once in a thousand. Adam's g ** 2 goes through it too.
# - Nodes keep children and local derivatives as data in __slots__, not closures: no
#   reference cycles, so reference counting frees each step's graph and the script
#   pauses CPython's cycle collector (1.12x; PyPy needs it on). backward() searches
#   on a stack, so that any depth works, and skips leaves, which pass nothing on.

import argparse, gc, json, os, re, shlex, signal, stat, sys, tempfile

DEFAULT_INPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'input.txt')
NAMES_URL = 'https://raw.githubusercontent.com/karpathy/makemore/988aa59/names.txt'
NAMES_SHA256 = '0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d'
CHECKPOINT, VERSION = 'microgpt checkpoint', 2  # the "format" and "version" --save writes
STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # each saves a --save run first

def say(message):  # on stderr, in one line whatever the message holds: a file name may too
    print(''.join(c if c.isprintable() else repr(c)[1:-1] for c in message), file=sys.stderr)

def fail(message, status=2):  # bad input is no crash
    say(f'microgpt.py: error: {message}')
    sys.exit(status)

def whole(least):  # an argparse type: a whole number, at least `least`
    def parse(text):
        if int(text) < least:  # a ValueError makes argparse say "invalid whole number value"
            raise argparse.ArgumentTypeError(f'must be at least {least}, got {text}')
        return int(text)
    parse.__name__ = 'whole number'
    return parse

def number(text):  # an argparse type: a finite number above 0
    if not 0 < float(text) < math.inf:
        raise argparse.ArgumentTypeError(f'must be a finite number above 0, got {text}')
    return float(text)

def filename(text):  # an argparse type: a name that is not empty
    if not text:
        raise argparse.ArgumentTypeError('needs a file name, not an empty one')
    return text

SETTINGS_HELP = {  # the lecture's settings as options: type, metavar, what each does
    'seed': (whole(0), 'N', 'seeds the shuffle, the initial weights and the sampling'),
    'n_layer': (whole(1), 'N', 'transformer blocks, one after the other'),
    'n_embd': (whole(1), 'N', "width of every token's vector"),
    'block_size': (whole(1), 'N', 'longest context in tokens; longer documents are cut'),
    'n_head': (whole(1), 'N', 'attention heads, each on n_embd // n_head dimensions'),
    'learning_rate': (number, 'X', "Adam's first step size; it falls to 0"),
    'num_steps': (whole(0), 'N', 'training steps, one document each; 0 only samples'),
    'temperature': (number, 'X', 'below 1 sharpens the distribution, above 1 flattens it; '
                    'one too small to divide by is refused'),
    'num_samples': (whole(0), 'N', 'how many new documents to invent after training'),
    'prompt': (str, 'TEXT', 'every sample starts with TEXT, read by the model before it draws')}
KINDS = {int: (int, 'N', 'a setting of the lecture'), float: (float, 'X', 'a setting of '
         'the lecture'), str: (str, 'TEXT', 'a setting of the lecture')}  # for new ones
OPTIONS = {'input': (filename, 'FILE', DEFAULT_INPUT, 'UTF-8 text file, one document per '
                     'line; the names list, the default, is downloaded if missing')}
for name, default in vars(settings).items():  # a setting added to the lecture is one too
    kind, metavar, what = SETTINGS_HELP.get(name) or KINDS.get(type(default), (None,) * 3)
    if kind:
        OPTIONS[name] = (kind, metavar, default, what)
OPTIONS.update({  # name: (type, metavar, default, what it does); the type bool is a flag
    'save': (filename, 'FILE', None, 'write the model and the state of training to FILE, as '
             'JSON, when training ends or Ctrl-C stops it'),
    'load': (filename, 'FILE', None, 'go on from a FILE written by --save (see below)'),
    'holdout': (whole(0), 'N', 0, 'keep N documents out of training and report their loss'),
    'report': (bool, None, False, 'show the loss curve; mark the samples that are documents'),
    'gradcheck': (bool, None, False, 'check backward() against finite differences, and stop')})
FREE = ('temperature', 'num_samples', 'prompt')  # sampling: each run of a checkpoint chooses
RECORDED = [name for name in vars(settings) if name in OPTIONS and name not in FREE] + ['holdout']
LOAD_RULES = """With --load FILE, the model, the vocabulary and the run are FILE's: training
goes on from the step FILE reached to its --num_steps, bit for bit as if it had
never stopped, on the dataset FILE names (or --input, which must hold the same
documents). The model options, --learning_rate and --holdout cannot change;
--num_steps=0 only samples, with no dataset; --seed draws other samples."""

def parse_args(argv):
    parser = argparse.ArgumentParser(description='Train a tiny GPT on a text file, one document '
                                     'per line, then sample from it.', epilog=LOAD_RULES)
    parser.error = lambda message: fail(f'{message}; see --help')  # one line, not a usage dump
    for name, (kind, metavar, default, what) in OPTIONS.items():  # None: "not given"
        if kind is bool:
            parser.add_argument('--' + name, action='store_true', default=None, help=what)
        else:
            shown = f' (default: {default})' if default not in (None, '') else ''
            parser.add_argument('--' + name, metavar=metavar, type=kind, help=what + shown)
    return parser.parse_args(argv)

def configure(argv):
    """This run's settings in one namespace: the options given, else the checkpoint's
    (with --load), else the defaults; and every refusal that can be made now."""
    given = {name: value for name, value in vars(parse_args(argv)).items() if value is not None}
    saved = load(given['load']) if 'load' in given else None
    fixed = saved['settings'] if saved else {}
    for name in fixed:
        if name in given and name != 'seed' and (name, given[name]) != ('num_steps', 0):
            fail(f'--{name} comes from {given["load"]} (which says {fixed[name]}); leave it out'
                 + (', or pass --num_steps=0 to only sample' if name == 'num_steps' else ''))
    config = SimpleNamespace(**{name: row[2] for name, row in OPTIONS.items()})
    if saved:
        config.input = saved['dataset']['path']
    vars(config).update({**given, **fixed})
    config.train = given.get('num_steps') != 0 or not saved
    config.reseed = given.get('seed') if saved else None  # with --load: other samples
    if config.n_embd % config.n_head:
        fail(f'--n_embd={config.n_embd} must be divisible by --n_head={config.n_head}, '
             f'so that every head gets the same number of dimensions')
    if 1 / config.temperature == math.inf:
        fail(f'--temperature={config.temperature} is so small that dividing by it overflows')
    if config.save:
        check_save(config)
    return config, saved

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
    odd = [ch for ch in set(''.join(docs)) if not ch.isprintable()]
    if odd:  # a sample holding one would not print as one line
        fail(f'{path} holds {min(odd)!r}, a character that cannot be printed; take it out')
    return docs

def read_dataset(config, saved):
    """The training documents and the held-out ones, in the order of the seed, and
    what a checkpoint keeps of them. A checkpoint that is only sampled needs none."""
    if saved and not (config.train or config.report or config.gradcheck):
        return [], [], saved['dataset']
    if config.input == DEFAULT_INPUT and not os.path.exists(DEFAULT_INPUT):
        download_names(DEFAULT_INPUT)
    docs = read_docs(config.input)
    dataset = {'path': os.path.abspath(config.input), 'num_docs': None, 'sha256': None}
    if saved or config.save:
        dataset['sha256'] = fingerprint(docs)
    if saved and dataset['sha256'] != saved['dataset']['sha256']:
        fail(f"{config.input} does not hold the documents {config.load} was trained on "
             f"({saved['dataset']['path']}); pass those as --input")
    if saved and saved['chars'] != build_vocab(docs):
        fail(f'--load {config.load} is not usable: its vocabulary is not that of its dataset')
    shuffle(docs, config.seed)
    held_out, kept_out = docs[:config.holdout], set(docs[:config.holdout])
    docs = [doc for doc in docs[config.holdout:] if doc not in kept_out]  # nor a copy of one
    if not docs:
        fail(f'--holdout={config.holdout} leaves nothing to train on: {config.input} holds '
             f'{len(held_out)} documents or copies of them; hold out fewer')
    dataset['num_docs'] = len(docs)
    return docs, held_out, dataset

def fingerprint(docs):  # enough of a dataset to know it again
    import hashlib  # only here, as below: it would cost every run 3 MB of memory
    return hashlib.sha256('\n'.join(docs).encode()).hexdigest()

def download_names(path):
    import hashlib, http.client, urllib.request  # only here: they cost every other run memory
    say(f'microgpt.py: {path} is missing; downloading the names list from {NAMES_URL}')
    hint = f'put a text file at {path} or pass --input=FILE'
    try:
        with urllib.request.urlopen(NAMES_URL, timeout=30) as response:
            content = response.read()
        if hashlib.sha256(content).hexdigest() != NAMES_SHA256:
            fail(f'{NAMES_URL} sent something other than the names list; {hint}')
        write_whole(path, content)
    except (OSError, http.client.HTTPException) as e:
        fail(f'could not download {NAMES_URL} to {path} ({e}); {hint}')

def write_whole(path, data):
    """Write through a temporary file beside path, named after it, renamed only once
    complete: path holds its old content or the new, never a part."""
    folder, name = os.path.split(os.path.realpath(path))
    fd, partial = tempfile.mkstemp(dir=folder, prefix=name[:100] + '.', suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(partial, 0o644)  # mkstemp makes it private; it is no secret
        os.replace(partial, os.path.join(folder, name))
    finally:
        if os.path.exists(partial):  # anything went wrong before the rename
            os.remove(partial)

def check_save(config):
    """Refuse a --save FILE now, not after an hour of training: FILE must be new, or
    a checkpoint that --load would take, and not the dataset; its folder writable."""
    path, hint = config.save, 'name another file'
    folder, name = os.path.split(os.path.abspath(path))
    if os.path.basename(path) in ('', '.', '..'):  # newdir/ would become a file "newdir"
        fail(f'--save {path} names a folder, not a file; {hint}')
    try:
        if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
            fail(f'--save {path} is not a regular file; {hint}')  # a device, a FIFO, a folder
        if os.path.exists(path) and os.path.exists(config.input) \
                and os.path.samefile(path, config.input):
            fail(f'--save {path} is the dataset; {hint}')
        if os.path.exists(path):
            read_checkpoint(path)
        elif len(os.fsencode(name)) > os.pathconf(folder, 'PC_NAME_MAX'):
            fail(f'--save {path}: the name is longer than this system allows; {hint}')
        tempfile.TemporaryFile(dir=folder).close()
    except ValueError as e:
        fail(f'--save {path} would replace a file that is not a checkpoint ({e}); {hint}')
    except OSError as e:  # a missing folder, no permission
        fail(f'--save {path} cannot be written ({e.strerror}); {hint}')

def need(ok, why):  # one check of a checkpoint: a file is data, and may hold anything
    if not ok:
        raise ValueError(why)

def short(x):  # a value from a file, shown in a message of one short line
    return repr(x) if len(repr(x)) <= 40 else repr(x)[:36] + '...'

def a_number(x):  # a number from a checkpoint: no text, no null, no NaN, no infinity
    need(type(x) in (int, float) and math.isfinite(x), f'{short(x)} is not a finite number')
    return float(x)

def small_int(text):  # a huge whole number becomes infinity, which every check refuses
    return int(text) if len(text) <= 30 else float(text)

def saved_setting(name, value):  # a setting from a checkpoint, checked by its option's type
    kind, _, default, _ = OPTIONS[name]
    need(type(value) is type(default) or (type(value), type(default)) == (int, float),
         f'its {name} is {short(value)}, not of type {type(default).__name__}')
    try:
        return kind(str(value))
    except argparse.ArgumentTypeError as e:
        raise ValueError(f'its {name} {e}')

def random_state(state):  # a state of Python's generator, as random.getstate() gives it
    need(isinstance(state, list) and len(state) == 3 and type(state[0]) is int
         and state[0] == 3 and isinstance(state[1], list) and len(state[1]) == 625
         and all(type(x) is int and 0 <= x < 2**32 for x in state[1]) and state[1][-1] <= 624
         and (state[2] is None or type(state[2]) is float and math.isfinite(state[2])),
         "its random_state is not a state of Python's generator")
    return (3, tuple(state[1]), state[2])

KEYS = ('format', 'version', 'settings', 'step', 'losses', 'dataset', 'vocab', 'state_dict',
        'adam_m', 'adam_v', 'random_state')

def read_checkpoint(path):
    """The run in a file written by --save; ValueError if it is not a usable one.
    Its size and its nesting are checked before it is parsed."""
    try:
        need(stat.S_ISREG(os.stat(path).st_mode), 'it is not a regular file')
        need(os.path.getsize(path) <= memory_here() / 4,
             'it is bigger than any checkpoint the memory here could train')
        with open(path, encoding='utf-8') as f:
            text = f.read()
        brackets = re.sub(r'"[^"\\]*(?:\\.[^"\\]*)*"|[^][{}]+', '', text)
        for _ in range(4):  # a checkpoint nests 4 deep, in the rows of the state_dict
            brackets = brackets.replace('[]', '').replace('{}', '')
        need(not brackets, 'its brackets nest deeper than a checkpoint does, or do not pair up')
        return rebuild(json.loads(text, parse_int=small_int, parse_constant=a_number))
    except OSError as e:
        raise ValueError(f'it cannot be read ({e.strerror})')
    except UnicodeDecodeError as e:
        raise ValueError(f'it is not UTF-8 text ({e.reason})')
    except json.JSONDecodeError as e:  # a file cut short, too
        raise ValueError(f'it is not JSON ({e})')
    except MemoryError:
        raise ValueError('it is too big for the memory here')

def rebuild(ck):
    """The run in a parsed checkpoint, every part checked, its model rebuilt."""
    need(isinstance(ck, dict) and ck.get('format') == CHECKPOINT, 'it is not a microgpt checkpoint')
    need(ck.get('version') == VERSION,
         f'it is of version {short(ck.get("version"))}; this program reads {VERSION}')
    for key in set(KEYS) ^ set(ck):
        need(False, f'it {"lacks" if key in KEYS else "holds an unknown"} {short(key)}')
    settings, step, losses, dataset, vocab = (ck[key] for key in KEYS[2:7])
    need(isinstance(settings, dict), 'its settings are not a JSON object')
    for name in set(RECORDED) ^ set(settings):
        need(False, f'it {"lacks the" if name in RECORDED else "holds an unknown"} setting '
                    f'{short(name)}')
    settings = {name: saved_setting(name, settings[name]) for name in RECORDED}
    need(settings['n_embd'] % settings['n_head'] == 0, 'its n_embd is not divisible by its n_head')
    need(type(step) is int and 0 <= step <= settings['num_steps'],
         f'its step, {short(step)}, is not a step of its run')
    need(isinstance(losses, list) and len(losses) == step, f'its losses are not {step} numbers')
    need(isinstance(vocab, str) and vocab != '' and vocab.isprintable()
         and list(vocab) == sorted(set(vocab)), 'its vocab is not distinct printable characters, sorted')
    need(isinstance(dataset, dict) and set(dataset) == {'path', 'num_docs', 'sha256'}
         and isinstance(dataset['path'], str) and isinstance(dataset['sha256'], str)
         and type(dataset['num_docs']) is int and dataset['num_docs'] > 0,
         'its dataset is not described')
    config = SimpleNamespace(**{**vars(globals()['settings']), **settings})
    shapes = init_state_dict(len(vocab) + 1, config, matrix=no_weights)
    saved = ck['state_dict'] if isinstance(ck['state_dict'], dict) else {}
    for name, mat in shapes.items():
        rows = saved.get(name)
        need(name in saved, f'it has no {name}, which its model has')
        need(isinstance(rows, list) and [len(r) if isinstance(r, list) else -1 for r in rows]
             == [len(r) for r in mat], f'its {name} is not the {len(mat)} x '
             f'{len(mat[0]) if mat else 0} matrix of its model')
    for name in set(saved) - set(shapes):
        need(False, f'its state_dict holds {short(name)}, which its model has not')
    state_dict = {name: [[Value(a_number(x)) for x in row] for row in saved[name]]
                  for name in shapes}
    n, m, v = len(parameters(state_dict)), ck['adam_m'], ck['adam_v']
    need(isinstance(m, list) and isinstance(v, list) and len(m) == len(v) == n,
         f'its adam_m and adam_v are not {n} numbers each')
    return {'settings': settings, 'step': step, 'losses': [a_number(x) for x in losses],
            'dataset': dataset, 'chars': list(vocab), 'state_dict': state_dict,
            'm': [a_number(x) for x in m], 'v': [a_number(x) for x in v],
            'random_state': random_state(ck['random_state'])}

def no_weights(nout, nin, std=0):  # a matrix that knows its shape and holds nothing
    return [range(nin)] * nout

def load(path):
    try:
        return read_checkpoint(path)
    except ValueError as e:
        fail(f'--load {path} is not usable: {e}; pass a file written by --save')

def checkpoint(run, config):  # all that sampling and going on need, as plain data
    return {'format': CHECKPOINT, 'version': VERSION,
            'settings': {name: getattr(config, name) for name in RECORDED},
            'step': run['step'], 'losses': run['losses'][:], 'dataset': run['dataset'],
            'vocab': ''.join(run['chars']),
            'state_dict': {name: [[p.data for p in row] for row in mat]
                           for name, mat in run['state_dict'].items()},
            'adam_m': run['m'][:], 'adam_v': run['v'][:], 'random_state': random.getstate()}

def save(path, ck):
    """Write a checkpoint, a line for each entry and for each row of a matrix, for a
    person to read; a signal that would stop the run waits until it is whole."""
    dump = lambda value: json.dumps(value, allow_nan=False)
    rows = lambda mat: '[\n  ' + ',\n  '.join(map(dump, mat)) + ']'
    text = '{\n' + ',\n'.join(f'{dump(key)}: ' + (dump(value) if key != 'state_dict' else
        '{\n ' + ',\n '.join(f'{dump(name)}: {rows(mat)}' for name, mat in value.items()) + '}')
        for key, value in ck.items()) + '\n}\n'
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    try:
        write_whole(path, text.encode())
    except OSError as e:
        fail(f'could not save {path} ({e.strerror})', status=1)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)

def memory_here():  # the bytes this process may use: the machine's, or fewer under ulimit
    sizes = []
    try:  # not every system tells
        sizes.append(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))
        import resource
        sizes += [resource.getrlimit(resource.RLIMIT_AS)[0],
                  resource.getrlimit(resource.RLIMIT_DATA)[0]]
    except (AttributeError, ValueError, OSError, ImportError):
        pass
    return min([size for size in sizes if size > 0] or [math.inf])  # RLIM_INFINITY is -1

def new_run(config, chars, dataset):
    """Random weights, once they are known to fit in the memory: a weight takes
    about 200 bytes, and 80 more at each position of a step's graph."""
    shapes = init_state_dict(len(chars) + 1, config, matrix=no_weights)
    n = sum(len(row) for mat in shapes.values() for row in mat)
    need, have = n * (200 + 80 * config.block_size), memory_here()
    if need > have:
        fail(f'a model of {n:,} weights needs about {need / 2**30:,.0f} GiB of memory '
             f'to train, more than the {have / 2**30:,.0f} GiB here; make it smaller')
    state_dict = init_state_dict(len(chars) + 1, config)
    m, v = init_adam(parameters(state_dict))
    return {'step': 0, 'losses': [], 'dataset': dataset, 'chars': chars,
            'state_dict': state_dict, 'm': m, 'v': v}

def quote(word):  # for a POSIX shell, on one line, whatever the word holds
    if word.isprintable():
        return shlex.quote(word)
    return "$'" + ''.join(chr(b) if 32 <= b < 127 and b not in b"'\\" else f'\\x{b:02x}'
                          for b in os.fsencode(word)) + "'"

def resume_command(config):
    """The command that goes on from the checkpoint in config.save, as this run would."""
    words = [os.path.basename(sys.executable), sys.argv[0], '--load=' + config.save,
             '--save=' + config.save]
    words += [f'--{name}={getattr(config, name)}' for name in FREE  # not in the checkpoint
              if getattr(config, name) != OPTIONS[name][2]]
    words += [f'--seed={config.reseed}'] if config.reseed is not None else []
    words += ['--report'] if config.report else []
    return ' '.join(quote(word) for word in words)

def interrupted(stop, note=''):
    print()  # ends the progress line
    signum = stop.args[0] if stop.args else signal.SIGINT  # stop() below passes its signal
    by = '' if signum == signal.SIGINT else f' by {signal.Signals(signum).name}'
    say(f'microgpt.py: interrupted{by}{note}')
    sys.exit(128 + signum)  # as a shell reports a process that a signal stopped

def stop(signum, frame):  # SIGTERM and SIGHUP stop the run as Ctrl-C does
    raise KeyboardInterrupt(signum)

def breaks_down(e):  # arithmetic beyond the floats: the model diverged, not the code
    return isinstance(e, OverflowError) or str(e) == 'math domain error'

def diverged(why, config):
    print()  # ends the progress line
    fail(f'{why}; try a smaller --learning_rate than {config.learning_rate}')

def losses_line(run, held_out, window, config):  # the held-out loss: a forward pass alone
    held = math.fsum(doc_loss(encode(doc, run['chars']), run['state_dict'], config).data
                     for doc in held_out) / len(held_out)
    recent = run['losses'][-window:]
    return (f'held-out loss {held:.4f} on {len(held_out)} document{"s" * (len(held_out) > 1)}; '
            f'training loss {math.fsum(recent) / max(1, len(recent)):.4f} (mean of the last '
            f'{len(recent)} steps)')

def train_run(docs, held_out, run, config):
    """train() with its progress line, the held-out loss at each tenth, and on Ctrl-C
    with --save the last finished step saved (the signal may land in mid-update)."""
    kept = checkpoint(run, config) if config.save else None
    window = max(1, -(-config.num_steps // 10))  # a tenth of the run, as --report's curve
    try:
        for step, loss in train(docs, run['chars'], run['state_dict'], run['m'], run['v'],
                                config, run['step']):
            if not math.isfinite(loss):
                diverged(f'training diverged at step {step + 1} (the loss is {loss})', config)
            run['losses'].append(loss)
            run['step'] = step + 1
            print(f"step {step+1:4d} / {config.num_steps:4d} | loss {loss:.4f}", end='\r')
            if held_out and run['step'] % window == 0 and run['step'] < config.num_steps:
                few = held_out[:max(1, window // 5)]  # a small share of the run's time
                print(f"step {step+1:4d} / {config.num_steps:4d} | "
                      + losses_line(run, few, window, config))
            kept = checkpoint(run, config) if config.save else None  # in one assignment
    except (ArithmeticError, ValueError) as e:
        if not breaks_down(e):
            raise
        diverged(f"training diverged at step {run['step'] + 1} ({e})", config)
    except KeyboardInterrupt as e:
        if not config.save:
            raise
        try:
            save(config.save, kept)
        except KeyboardInterrupt:  # one more signal while saving: the file is whole anyway
            pass
        interrupted(e, f"; step {kept['step']} of {config.num_steps} is saved in "
                       f"{config.save}; go on with: {resume_command(config)}")
    if held_out and run['losses']:
        print('\n' + losses_line(run, held_out, window, config), end='')

def check_scores(run, config):
    """The last update may have thrown the weights too far (a square overflows), or
    the temperature be too small for the scores: every position of a block shows it."""
    keys, values = kv_cache(config)
    weights = [p.data for mat in run['state_dict'].values() for row in mat for p in row]
    try:
        for pos_id in range(config.block_size):
            logits = [l.data for l in gpt(len(run['chars']), pos_id, keys, values,
                                          run['state_dict'], config)]
            if not all(math.isfinite(x * x) for x in (weights if pos_id == 0 else []) + logits):
                diverged('the weights no longer give finite scores: training diverged', config)
            if not all(math.isfinite(p.data) for p in softmax([Value(l) / config.temperature
                                                               for l in logits])):
                fail(f'--temperature={config.temperature} is so small that the scores '
                     f'overflow; try one nearer 1')
    except (ArithmeticError, ValueError) as e:
        if not breaks_down(e):
            raise
        diverged(f'the weights no longer give finite scores ({e}): training diverged', config)

def print_curve(losses):  # --report: the trend shows through each document's noise
    size = max(1, -(-len(losses) // 10))
    means = [(i, math.fsum(losses[i:i + size]) / len(losses[i:i + size]))
             for i in range(0, len(losses), size)]
    print(f'\n--- loss curve: the mean loss of each {size} steps ---', end='')
    for i, mean in means:
        bar = '#' * round(40 * mean / max(mean for _, mean in means))
        print(f'\nsteps {i + 1:4d} - {min(i + size, len(losses)):4d} | {mean:.4f} {bar}', end='')

def print_samples(run, docs, held_out, config):  # with --report, known ones are marked
    marks = {**{doc: '  (held out)' for doc in held_out},
             **{doc: '  (in the training set)' for doc in docs}} if config.report else {}
    print("\n--- inference (new, hallucinated names) ---")
    shown = []
    for sample_idx in range(config.num_samples):
        text = sample(run['state_dict'], run['chars'], config)
        shown.append(marks.get(text, ''))
        print(f"sample {sample_idx+1:2d}: {text}{shown[-1]}")
    if config.report:
        print(f"of {len(shown)} samples, {shown.count('  (in the training set)')} are in the "
              f"training set, {shown.count('  (held out)')} are held out, {shown.count('')} are new")

def relative(a, b, scale=0.0):  # how far two derivatives disagree, for their size
    return abs(a - b) / max(abs(a), abs(b), scale) if a != b else 0.0

def op_errors(op, h=1e-6):
    """The relative errors of backward() against difference quotients for an
    operation of Value, at inputs on both sides of 0, with a Value or a plain number
    as the other operand; None if it is a method, not an operation."""
    unary = op.__code__.co_argcount - len(op.__defaults__ or ()) == 1
    points, errors = (-1.5, -0.6, 0.4, 0.9, 1.7), []
    for x in points:
        for other in [()] if unary else [(Value(y),) for y in points] + [
                (c,) for c in (-2, -1, -0.5, 0.5, 1.5, 2, 3)]:  # powers take these
            args = [Value(x), *other]
            at = lambda i, shift: op(*[Value(a.data + shift) if j == i else a
                                       for j, a in enumerate(args)]).data
            try:
                out = op(*args)
                if not isinstance(out, Value):
                    return None
                out.backward()
                errors += [relative(a.grad, (at(i, h) - at(i, -h)) / (2 * h))
                           for i, a in enumerate(args) if isinstance(a, Value)]
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                pass  # a Value where it takes a plain number (a ** k), or outside its domain
    return errors

def slope(loss, weights, direction, h):  # loss()'s difference quotient along direction
    start, sides = [p.data for p in weights], []
    for shift in (h, -h):
        for p, x, d in zip(weights, start, direction):
            p.data = x + shift * d
        sides.append(loss().data)
    for p, x in zip(weights, start):
        p.data = x
    return (sides[0] - sides[1]) / (2 * h)

def gradcheck(docs, chars, state_dict, config, tolerance=1e-6):
    """--gradcheck: backward() against central differences, for every operation of
    Value (found in the class, so a new one is checked too) and for the model's loss
    along a random direction in each matrix. Returns the exit status."""
    print(f'gradcheck: the largest relative error of backward() against central '
          f'differences, which must be below {tolerance:g}')
    wrong = []
    def report(what, errors):  # nothing compared is no agreement
        error = max(errors or [math.inf])
        print(f'{error:7.1e}  {"ok" if error < tolerance else "WRONG":5}  {what}')
        wrong.extend([] if error < tolerance else [what])
    for name, op in vars(Value).items():
        errors = op_errors(op) if callable(op) and name not in ('__init__', '__repr__',
                                                                'backward') else None
        if errors is not None:
            report(f'Value.{name}', errors)
    few = [encode(doc, chars) for doc in docs[:3]]
    loss = lambda: total([doc_loss(tokens, state_dict, config) for tokens in few])
    loss().backward()
    rng = random.Random(0)  # its own generator: the run's is left alone
    for name, mat in state_dict.items():
        weights = [p for row in mat for p in row]
        direction = [rng.choice((-1, 1)) for _ in weights]
        along = math.fsum(p.grad * d for p, d in zip(weights, direction))
        size = math.sqrt(math.fsum(p.grad * p.grad for p in weights))  # along's usual size
        for h in (1e-6, 1e-5, 1e-7):  # another step, if this one crossed a kink of relu
            error = relative(along, slope(loss, weights, direction, h), size)
            if error < tolerance:
                break
        report(f'loss along {name}', [error])
    print('all agree' if not wrong else 'disagree: ' + ', '.join(wrong))
    return 1 if wrong else 0

def main(argv=()):
    """One run, as the lecture tells it: the settings, the documents, the model,
    training, the samples; and the program's concerns around it, by name."""
    config, saved = configure(argv)
    docs, held_out, dataset = read_dataset(config, saved)
    chars = saved['chars'] if saved else build_vocab(docs + held_out)
    unknown = ''.join(sorted(set(config.prompt) - set(chars)))
    if unknown:
        fail(f'--prompt {config.prompt!r}: {unknown!r} is not in the vocabulary {"".join(chars)!r}')
    if len(config.prompt) >= config.block_size:
        fail(f'--prompt is {len(config.prompt)} characters long and leaves no position to draw '
             f'in a block of {config.block_size}; shorten it')
    if saved:
        random.setstate(saved['random_state'])  # where the saved run left the generator
        run = dict(saved, dataset=dataset)
    else:
        run = new_run(config, chars, dataset)
    print(f"num docs: {dataset['num_docs']}"
          + (f' ({config.holdout} more held out)' if config.holdout else ''))
    print(f"vocab size: {len(chars) + 1}\nnum params: {len(parameters(run['state_dict']))}")
    if config.gradcheck:
        sys.exit(gradcheck(docs, chars, run['state_dict'], config))
    if config.train:
        train_run(docs, held_out, run, config)
    check_scores(run, config)
    if config.save:
        save(config.save, checkpoint(run, config))
    if config.report:
        print_curve(run['losses'])
    if config.reseed is not None:
        random.seed(config.reseed)
    print_samples(run, docs, held_out, config)

if __name__ == '__main__':
    if sys.version_info < (3, 8):  # the file still parses on 3.6 and 3.7, so it can say so
        sys.exit(f'microgpt.py: error: needs Python 3.8 or newer, not {sys.version.split()[0]}')
    if sys.implementation.name == 'cpython':
        gc.disable()  # see the Notes: the graph has no cycles to collect
    for signum in STOPS[1:]:
        signal.signal(signum, stop)
    try:
        if sys.stdout:  # None when started with stdout closed: then nothing is printed
            sys.stdout.reconfigure(encoding='utf-8')  # a dataset in any script prints anywhere
        main(sys.argv[1:])
        if sys.stdout:
            sys.stdout.flush()  # here, where a failure to write can still be said
    except KeyboardInterrupt as e:  # Ctrl-C: stop at once; the progress line shows the step
        interrupted(e)
    except OSError as e:  # the files we read and write say their own: this one is stdout
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # or exit fails again
        if isinstance(e, BrokenPipeError):  # the reader stopped early, as `| head` does
            sys.exit(1)
        fail(f'cannot write the output ({e.strerror})', status=1)
    except MemoryError:
        fail('out of memory; try a smaller model (--n_embd, --n_layer, --block_size) or dataset')
