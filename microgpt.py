"""microgpt: a GPT trained on a list of names, in one file of plain Python.
The lecture first: the algorithm, then run(), the whole run; from "# The program" on, the
program around it. Left out on purpose, as each would bury the idea: tensors and batches,
biases, LayerNorm, GELU, dropout, weight tying."""
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
def load_docs(path):  # the non-blank lines, stripped, in file order
    with open(path, encoding='utf-8-sig') as f:  # -sig: a byte-order mark is no letter
        return [line.strip() for line in f if line.strip()]

# Tokenizer: each distinct character is a token; BOS, one more, opens and closes a document
def build_tokenizer(docs):
    chars = sorted(set(''.join(docs)))  # a character's id is its index in this list
    return SimpleNamespace(chars=chars, BOS=len(chars), vocab_size=len(chars) + 1)
def encode(doc, tokenizer):
    return [tokenizer.BOS] + [tokenizer.chars.index(ch) for ch in doc] + [tokenizer.BOS]
def decode(ids, tokenizer):
    return ''.join(tokenizer.chars[i] for i in ids)

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
    def __pow__(self, k):  # a ** k, k a plain number;  d/da = k * a ** (k - 1)
        return Value(math.pow(self.data, k), (self,), (k * math.pow(self.data, k - 1),))
    def log(self): return Value(math.log(self.data), (self,), (1 / self.data,))  # d/da = 1 / a
    def exp(self): return Value(math.exp(self.data), (self,), (math.exp(self.data),))  # = exp(a)
    def relu(self): return Value(max(0, self.data), (self,), (float(self.data > 0),))  # 1, or 0

    # the rest are made of the operations above
    def __neg__(self): return self * -1
    def __radd__(self, other): return self + other
    def __sub__(self, other): return self + (-other)
    def __rsub__(self, other): return other + (-self)
    def __rmul__(self, other): return self * other
    def __truediv__(self, other): return self * other ** -1
    def __rtruediv__(self, other): return other * self ** -1

    def backward(self):
        # build_topo: each node after all it was made from; a stack stands in for recursion
        topo, visited, stack = [], {self}, [(self, iter(self._children))]
        while stack:
            node, children = stack[-1]
            for child in children:  # go down into the first child not yet visited
                if child._children and child not in visited:  # a leaf passes nothing on
                    visited.add(child)
                    stack.append((child, iter(child._children)))
                    break
            else:  # every child placed: now the node itself
                topo.append(stack.pop()[0])
        self.grad = 1  # then the chain rule, from the loss down to every weight
        for node in reversed(topo):
            for child, local_grad in zip(node._children, node._local_grads):
                child.grad += local_grad * node.grad

def total(values):  # a0 + a1 + ... as one node;  d/da_i = 1
    return Value(reduce(add, [v.data for v in values], 0), tuple(values), (1,) * len(values))
def dot(a, b):  # a0*b0 + a1*b1 + ... as one node;  d/da_i = b_i, d/db_i = a_i
    a_data, b_data = [ai.data for ai in a], [bi.data for bi in b]
    children, local_grads = [None] * (2 * len(a)), [None] * (2 * len(a))
    children[0::2], children[1::2] = a, b  # in pairs: a0, b0, a1, b1, ...
    local_grads[0::2], local_grads[1::2] = b_data, a_data
    return Value(reduce(add, map(mul, a_data, b_data), 0), tuple(children), tuple(local_grads))

# Parameters: the model's knowledge, drawn at random, row by row, in state_dict order
def matrix(nout, nin, std=0.08):
    return [[Value(random.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]
def init_state_dict(vocab_size, config, matrix=matrix):
    n_embd = config.n_embd
    state_dict = {'wte': matrix(vocab_size, n_embd),         # token embeddings
                  'wpe': matrix(config.block_size, n_embd),  # position embeddings
                  'lm_head': matrix(vocab_size, n_embd)}     # vector -> next-token scores
    for i in range(config.n_layer):
        for name in ('attn_wq', 'attn_wk', 'attn_wv', 'attn_wo'):  # query, key, value, out
            state_dict[f'layer{i}.{name}'] = matrix(n_embd, n_embd)
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
def kv_cache(config):  # for each layer, the keys and the values of the positions so far
    return [([], []) for _ in range(config.n_layer)]

def attention(x, pos_id, li, cache, state_dict, config):  # pos_id: for RoPE, say
    # each head mixes the values so far, weighted by how well its query fits each key
    q = linear(x, state_dict[f'layer{li}.attn_wq'])
    k = linear(x, state_dict[f'layer{li}.attn_wk'])
    v = linear(x, state_dict[f'layer{li}.attn_wv'])
    keys, values = cache[li]
    keys.append(k)
    values.append(v)
    head_dim = config.n_embd // config.n_head
    x_attn = []  # no mask needed: the cache holds only this position and those before it
    for h in range(config.n_head):
        hs = slice(h * head_dim, (h + 1) * head_dim)
        q_h, k_h, v_h = q[hs], [kt[hs] for kt in keys], [vt[hs] for vt in values]
        # divided by sqrt(head_dim), so that wider heads do not make softmax peakier
        attn_weights = softmax([dot(q_h, kt) / head_dim ** 0.5 for kt in k_h])
        x_attn += [dot(attn_weights, [vt[j] for vt in v_h]) for j in range(head_dim)]
    return linear(x_attn, state_dict[f'layer{li}.attn_wo'])

def mlp(x, li, state_dict):  # each position on its own: wider, a kink, narrower again
    x = linear(x, state_dict[f'layer{li}.mlp_fc1'])
    x = [xi.relu() for xi in x]
    return linear(x, state_dict[f'layer{li}.mlp_fc2'])

def gpt(token_id, pos_id, cache, state_dict, config):  # the scores of every next token
    tok_emb = state_dict['wte'][token_id]  # what the token is
    pos_emb = state_dict['wpe'][pos_id]    # where it is
    x = [t + p for t, p in zip(tok_emb, pos_emb)]
    x = rmsnorm(x)  # not redundant: the residual connections below go around the later norms
    for li in range(config.n_layer):
        x_residual = x  # 1) attention: gather what the earlier positions hold
        x = attention(rmsnorm(x), pos_id, li, cache, state_dict, config)
        x = [a + b for a, b in zip(x, x_residual)]
        x_residual = x  # 2) MLP: think about what was gathered
        x = mlp(rmsnorm(x), li, state_dict)
        x = [a + b for a, b in zip(x, x_residual)]
    return linear(x, state_dict['lm_head'])

# Training: a document's loss is the mean of -log(probability of the true next token)
beta1, beta2, eps_adam = 0.85, 0.99, 1e-8  # Adam's memories of gradients and squares

def doc_loss(tokens, state_dict, config):
    n = min(config.block_size, len(tokens) - 1)  # a document longer than the context is cut
    cache = kv_cache(config)
    losses = []
    for pos_id in range(n):
        token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
        probs = softmax(gpt(token_id, pos_id, cache, state_dict, config))
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

def train_step(docs, step, tokenizer, state_dict, m, v, config):  # one document, one update
    tokens = encode(docs[step % len(docs)], tokenizer)  # the dataset over and over
    loss = doc_loss(tokens, state_dict, config)
    loss.backward()
    adam_step(parameters(state_dict), m, v, step, config)
    return loss.data
def print_step(step, loss, config):  # \r: the next step's line overwrites this one
    print(f"step {step+1:4d} / {config.num_steps:4d} | loss {loss:.4f}", end='\r')

# Sampling: from BOS, draw one token at a time until the model draws BOS again
def sample(state_dict, tokenizer, config):  # a new document: the prompt, then what is drawn
    cache = kv_cache(config)
    token_id, out = tokenizer.BOS, []
    for pos_id in range(config.block_size):
        logits = gpt(token_id, pos_id, cache, state_dict, config)
        if pos_id < len(config.prompt):  # the prompt gives the next token: nothing to draw
            token_id = tokenizer.chars.index(config.prompt[pos_id])
        else:  # scores divided by the temperature, then a draw from their softmax
            probs = softmax([l / config.temperature for l in logits])
            token_id = random.choices(range(tokenizer.vocab_size), weights=[p.data for p in probs])[0]
            if token_id == tokenizer.BOS:  # the model ended the document
                break
        out.append(token_id)
    return decode(out, tokenizer)
def print_samples(texts):  # as each is drawn, when texts is a generator
    print("\n--- inference (new, hallucinated names) ---")
    for sample_idx, text in enumerate(texts):
        print(f"sample {sample_idx+1:2d}: {text}")

# The run: everything above, in order, on input.txt in the current folder
def run(config):
    random.seed(config.seed)  # from here on all chance follows: the shuffle, weights, samples
    docs = load_docs('input.txt')
    random.shuffle(docs)
    print(f"num docs: {len(docs)}")
    tokenizer = build_tokenizer(docs)
    print(f"vocab size: {tokenizer.vocab_size}")
    state_dict = init_state_dict(tokenizer.vocab_size, config)
    params = parameters(state_dict)
    print(f"num params: {len(params)}")
    m, v = init_adam(params)
    for step in range(config.num_steps):
        loss = train_step(docs, step, tokenizer, state_dict, m, v, config)
        print_step(step, loss, config)
    print_samples(sample(state_dict, tokenizer, config) for _ in range(config.num_samples))

# The program: the command line, the download, checkpoints, the learner's
# instruments, and each failure in one line on stderr. It follows whatever the
# lecture builds: shapes come from init_state_dict(), settings from `settings`.
#
# Notes: why the lecture is written the way it is.
# - The bits: it computes the original program's very numbers, on CPython 3.8 to 3.13
#   and PyPy, as it keeps the original's operations in their order: -a is a * -1,
#   a - b is a + (-b), a / b is a * b ** -1, the loss is (1 / n) * the sum.
# - total() and dot() are one node where the original chains two-input additions: the
#   same numbers added in the same order (with reduce: sum() of floats compensates its
#   rounding from Python 3.12 on), the same gradient for each child; 7x as fast.
# - math.pow is C's pow() everywhere; PyPy computes x ** 2 as x * x, which rounds
#   differently about once in a thousand. Adam's g ** 2 goes through it too.
# - Nodes keep children and local derivatives as data, not closures: with no reference
#   cycles, reference counting frees each step's graph, and the script pauses CPython's
#   cycle collector (1.12x; PyPy needs it on). backward() walks on a stack: any depth.
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

# The command line: an option for each setting of the lecture, and the program's own
def checked(kind, name, ok, why):  # an argparse type: kind(text), refused unless ok(it)
    def parse(text):  # a ValueError from kind() makes argparse say "invalid <name> value"
        if not ok(kind(text)):
            raise argparse.ArgumentTypeError(why.format(text))
        return kind(text)
    parse.__name__ = name
    return parse

def whole(least):
    return checked(int, 'whole number', lambda n: n >= least, f'must be at least {least}, got {{}}')

number = checked(float, 'number', lambda x: 0 < x < math.inf, 'must be a finite number above '
                 '0, got {}')
filename = checked(str, 'file name', len, 'needs a file name, not an empty one')
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
METAVARS = {int: 'N', float: 'X', str: 'TEXT'}  # a setting a student adds is an option too
OPTIONS = {'input': (filename, 'FILE', 'UTF-8 text file, one document per line; the names '
                     'list, the default, is downloaded if missing', DEFAULT_INPUT)}
for name, default in vars(settings).items():
    if name in SETTINGS_HELP or type(default) in METAVARS:
        OPTIONS[name] = (*SETTINGS_HELP.get(name, (type(default), METAVARS.get(type(default)),
                                                   'a setting of the lecture')), default)
OPTIONS.update({  # name: (type, metavar, what it does, default); the type bool is a flag
    'save': (filename, 'FILE', 'write the model and the state of training to FILE, as JSON, '
             'when training ends or Ctrl-C stops it', None),
    'load': (filename, 'FILE', 'go on from a FILE written by --save (see below)', None),
    'holdout': (whole(0), 'N', 'keep N documents out of training and report their loss', 0),
    'report': (bool, None, 'show the loss curve; mark the samples that are documents', False),
    'gradcheck': (bool, None, 'check backward() against finite differences, and stop', False)})
FREE = ('temperature', 'num_samples', 'prompt')  # sampling: each run of a checkpoint chooses
RECORDED = [name for name in vars(settings) if name in OPTIONS and name not in FREE] + ['holdout']
LOAD_RULES = """With --load FILE, the model, the vocabulary and the run are FILE's: training
goes on from the step FILE reached to its --num_steps, bit for bit as if it had
never stopped, on the dataset FILE names (or --input, which must hold the same
documents). The model options, --learning_rate and --holdout cannot change;
--num_steps=0 only samples, with no dataset; --seed draws other samples."""

def configure(argv):  # the options given, else the checkpoint's (--load), else the defaults
    parser = argparse.ArgumentParser(description='Train a tiny GPT on a text file, one document '
                                     'per line, then sample from it.', epilog=LOAD_RULES)
    parser.error = lambda message: fail(f'{message}; see --help')  # one line, not a usage dump
    for name, (kind, metavar, what, default) in OPTIONS.items():  # None: "not given"
        if kind is bool:
            parser.add_argument('--' + name, action='store_true', default=None, help=what)
        else:
            shown = f' (default: {default})' if default not in (None, '') else ''
            parser.add_argument('--' + name, metavar=metavar, type=kind, help=what + shown)
    given = {name: x for name, x in vars(parser.parse_args(argv)).items() if x is not None}
    saved = load(given['load']) if 'load' in given else None
    fixed = saved['settings'] if saved else {}
    for name in fixed:
        if name in given and name != 'seed' and (name, given[name]) != ('num_steps', 0):
            fail(f'--{name} comes from {given["load"]} (which says {fixed[name]}); leave it out'
                 + (', or pass --num_steps=0 to only sample' if name == 'num_steps' else ''))
    config = SimpleNamespace(**{name: row[3] for name, row in OPTIONS.items()})
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

# The dataset: read whole or refused in one line; the names list downloaded if missing
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

def read_dataset(config, saved):  # the documents to train on, the held-out ones, their record
    if saved and not (config.train or config.report or config.gradcheck):
        return [], [], saved['dataset']  # a checkpoint that is only sampled needs none
    if config.input == DEFAULT_INPUT and not os.path.exists(DEFAULT_INPUT):
        download_names(DEFAULT_INPUT)
    docs = read_docs(config.input)
    sha256 = None
    if saved or config.save:  # only then: hashlib costs every run that imports it 3 MB
        import hashlib
        sha256 = hashlib.sha256('\n'.join(docs).encode()).hexdigest()
    if saved and sha256 != saved['dataset']['sha256']:
        fail(f"{config.input} does not hold the documents {config.load} was trained on "
             f"({saved['dataset']['path']}); pass those as --input")
    if saved and saved['tokenizer'].chars != build_tokenizer(docs).chars:
        fail(f'--load {config.load} is not usable: its vocabulary is not that of its dataset')
    random.seed(config.seed)  # as run() does
    random.shuffle(docs)
    held_out, kept_out = docs[:config.holdout], set(docs[:config.holdout])
    docs = [doc for doc in docs[config.holdout:] if doc not in kept_out]  # nor a copy of one
    if not docs:
        fail(f'--holdout={config.holdout} leaves no document to train on; hold out fewer')
    return docs, held_out, {'path': os.path.abspath(config.input), 'num_docs': len(docs),
                            'sha256': sha256}

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

def write_whole(path, data):  # through a temporary file beside path, renamed once whole
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

# Checkpoints: a file is data, and may hold anything; each part is checked before use
def check_save(config):  # now, not after an hour of training: a new file, or a checkpoint
    path, hint = config.save, 'name another file'
    folder, name = os.path.split(os.path.abspath(path))
    if os.path.basename(path) in ('', '.', '..'):  # newdir/ would become a file "newdir"
        fail(f'--save {path} names a folder, not a file; {hint}')
    try:
        if not os.path.exists(path):
            if len(os.fsencode(name)) > os.pathconf(folder, 'PC_NAME_MAX'):
                fail(f'--save {path}: the name is longer than this system allows; {hint}')
        elif not stat.S_ISREG(os.stat(path).st_mode):  # a device, a FIFO, a folder
            fail(f'--save {path} is not a regular file; {hint}')
        elif os.path.exists(config.input) and os.path.samefile(path, config.input):
            fail(f'--save {path} is the dataset; {hint}')
        else:
            read_checkpoint(path)
        tempfile.TemporaryFile(dir=folder).close()
    except ValueError as e:
        fail(f'--save {path} would replace a file that is not a checkpoint ({e}); {hint}')
    except OSError as e:  # a missing folder, no permission
        fail(f'--save {path} cannot be written ({e.strerror}); {hint}')

def need(ok, why):  # one check of a checkpoint
    if not ok:
        raise ValueError(why)
def short(x):  # a value from a file, shown in a message of one short line
    return repr(x) if len(repr(x)) <= 40 else repr(x)[:36] + '...'
def a_number(x):  # no text, no null, no NaN, no infinity
    need(type(x) in (int, float) and math.isfinite(x), f'{short(x)} is not a finite number')
    return float(x)
def numbers(xs, n, why):  # a list of n numbers, counted before any is converted
    need(isinstance(xs, list) and len(xs) == n, why)
    return [a_number(x) for x in xs]

def saved_setting(name, value):  # a setting from a checkpoint, checked by its option's type
    kind, default = OPTIONS[name][0], OPTIONS[name][3]
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

def read_checkpoint(path):  # the run in a file written by --save, or a ValueError that says why
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
        return rebuild(json.loads(text, parse_constant=a_number,  # a huge int becomes inf
                                  parse_int=lambda s: int(s) if len(s) <= 30 else float(s)))
    except OSError as e:
        raise ValueError(f'it cannot be read ({e.strerror})')
    except UnicodeDecodeError as e:
        raise ValueError(f'it is not UTF-8 text ({e.reason})')
    except json.JSONDecodeError as e:  # a file cut short, too
        raise ValueError(f'it is not JSON ({e})')
    except MemoryError:
        raise ValueError('it is too big for the memory here')

def rebuild(ck):  # the run in a parsed checkpoint, every part checked, its model rebuilt
    need(isinstance(ck, dict) and ck.get('format') == CHECKPOINT, 'it is not a microgpt checkpoint')
    need(ck.get('version') == VERSION,
         f'it is of version {short(ck.get("version"))}; this program reads {VERSION}')
    for key in set(KEYS) ^ set(ck):
        need(False, f'it {"lacks" if key in KEYS else "holds an unknown"} {short(key)}')
    named, step, losses, dataset, vocab, matrices = (ck[key] for key in KEYS[2:8])
    need(isinstance(named, dict), 'its settings are not a JSON object')
    for name in set(RECORDED) ^ set(named):
        need(False, f'it {"lacks the" if name in RECORDED else "holds an unknown"} setting '
                    f'{short(name)}')
    named = {name: saved_setting(name, named[name]) for name in RECORDED}
    need(named['n_embd'] % named['n_head'] == 0, 'its n_embd is not divisible by its n_head')
    need(type(step) is int and 0 <= step <= named['num_steps'],
         f'its step, {short(step)}, is not a step of its run')
    need(isinstance(vocab, str) and vocab != '' and vocab.isprintable() and list(vocab)
         == sorted(set(vocab)), 'its vocab is not distinct printable characters, sorted')
    need(isinstance(dataset, dict) and set(dataset) == {'path', 'num_docs', 'sha256'}
         and [type(dataset[k]) for k in ('path', 'num_docs', 'sha256')] == [str, int, str]
         and dataset['num_docs'] > 0, 'its dataset is not described')
    shapes = init_state_dict(len(vocab) + 1, SimpleNamespace(**{**vars(settings), **named}),
                             matrix=no_weights)
    matrices = matrices if isinstance(matrices, dict) else {}
    for name in [*shapes, *(name for name in matrices if name not in shapes)]:
        need(name in shapes, f'its state_dict holds {short(name)}, which its model has not')
        need(name in matrices, f'it has no {name}, which its model has')
        rows, mat = matrices[name], shapes[name]
        need(isinstance(rows, list) and [len(r) if isinstance(r, list) else -1 for r in rows]
             == [len(r) for r in mat], f'its {name} is not the {len(mat)} x '
             f'{len(mat[0]) if mat else 0} matrix of its model')
    state_dict = {name: [[Value(a_number(x)) for x in row] for row in matrices[name]]
                  for name in shapes}
    n = len(parameters(state_dict))  # Adam's buffers: one number for each weight it moves
    m, v = (numbers(ck[key], n, f'its adam_m and adam_v are not {n} numbers each')
            for key in ('adam_m', 'adam_v'))
    return {'settings': named, 'step': step, 'dataset': dataset, 'tokenizer': build_tokenizer([vocab]),
            'losses': numbers(losses, step, f'its losses are not {step} numbers'), 'm': m, 'v': v,
            'state_dict': state_dict, 'random_state': random_state(ck['random_state'])}

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
            'vocab': ''.join(run['tokenizer'].chars),
            'state_dict': {name: [[p.data for p in row] for row in mat]
                           for name, mat in run['state_dict'].items()},
            'adam_m': run['m'][:], 'adam_v': run['v'][:], 'random_state': random.getstate()}

def save(path, ck):  # a line for each entry and each row of a matrix; signals wait for it
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

# The run: new or loaded, trained with its progress line, stopped cleanly
def memory_here():  # the bytes this process may use: the machine's, or fewer under ulimit
    import resource
    sizes = [os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')] + [
        resource.getrlimit(limit)[0] for limit in (resource.RLIMIT_AS, resource.RLIMIT_DATA)]
    return min(size for size in sizes if size > 0)  # RLIM_INFINITY is -1

def new_run(config, tokenizer, dataset):  # random weights, once they are known to fit in memory
    shapes = init_state_dict(tokenizer.vocab_size, config, matrix=no_weights)
    n = sum(len(row) for mat in shapes.values() for row in mat)
    needed, have = n * (200 + 80 * config.block_size), memory_here()  # bytes: 200 a weight,
    if needed > have:  # and 80 more for each position of a step's graph
        fail(f'a model of {n:,} weights needs about {needed / 2**30:,.0f} GiB of memory '
             f'to train, more than the {have / 2**30:,.0f} GiB here; make it smaller')
    state_dict = init_state_dict(tokenizer.vocab_size, config)
    m, v = init_adam(parameters(state_dict))
    return {'step': 0, 'losses': [], 'dataset': dataset, 'tokenizer': tokenizer,
            'state_dict': state_dict, 'm': m, 'v': v}

def quote(word):  # for a POSIX shell, on one line, whatever the word holds
    if word.isprintable():
        return shlex.quote(word)
    return "$'" + ''.join(chr(b) if 32 <= b < 127 and b not in b"'\\" else f'\\x{b:02x}'
                          for b in os.fsencode(word)) + "'"

def resume_command(config):  # what goes on from the checkpoint in config.save, as this run
    words = [os.path.basename(sys.executable), sys.argv[0], '--load=' + config.save,
             '--save=' + config.save]
    words += [f'--{name}={getattr(config, name)}' for name in FREE  # not in the checkpoint
              if getattr(config, name) != OPTIONS[name][3]]
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

def train_run(docs, held_out, run, config):  # on Ctrl-C, with --save, the last whole step is saved
    kept = checkpoint(run, config) if config.save else None
    window = max(1, -(-config.num_steps // 10))  # a tenth of the run, as --report's curve
    try:
        for step in range(run['step'], config.num_steps):
            loss = train_step(docs, step, run['tokenizer'], run['state_dict'], run['m'], run['v'],
                              config)
            if not math.isfinite(loss):
                diverged(f'training diverged at step {step + 1} (the loss is {loss})', config)
            run['losses'].append(loss)
            run['step'] = step + 1
            print_step(step, loss, config)
            if held_out and run['step'] % window == 0 and run['step'] < config.num_steps:
                print_losses(f"step {step+1:4d} / {config.num_steps:4d} | ", run,
                             held_out[:max(1, window // 5)], window, config)  # a small share
            kept = checkpoint(run, config) if config.save else None  # in one assignment
    except (ArithmeticError, ValueError) as e:
        if not breaks_down(e):
            raise
        diverged(f"training diverged at step {run['step'] + 1} ({e})", config)
    except KeyboardInterrupt as e:  # it may land in mid-update: the kept step is saved
        if not config.save:
            raise
        try:
            save(config.save, kept)
        except KeyboardInterrupt:  # one more signal while saving: the file is whole anyway
            pass
        interrupted(e, f"; step {kept['step']} of {config.num_steps} is saved in "
                       f"{config.save}; go on with: {resume_command(config)}")
    if held_out and run['losses']:
        print_losses('\n', run, held_out, window, config, end='')

def check_scores(run, config):  # diverged weights (a square overflows), or too cold a temperature
    cache = kv_cache(config)
    weights = [p.data for mat in run['state_dict'].values() for row in mat for p in row]
    try:
        for pos_id in range(config.block_size):  # every position, as RoPE's may differ
            logits = [l.data for l in gpt(run['tokenizer'].BOS, pos_id, cache,
                                          run['state_dict'], config)]
            once = weights if pos_id == 0 else []  # the weights at the first position only
            if not all(math.isfinite(x * x) for x in once + logits):
                diverged('the weights no longer give finite scores: training diverged', config)
            if not all(math.isfinite(p.data) for p in softmax([Value(l) / config.temperature
                                                               for l in logits])):
                fail(f'--temperature={config.temperature} is so small that the scores '
                     f'overflow; try one nearer 1')
    except (ArithmeticError, ValueError) as e:
        if not breaks_down(e):
            raise
        diverged(f'the weights no longer give finite scores ({e}): training diverged', config)

def show_samples(run, docs, held_out, config):  # with --report, known ones are marked
    known = {**{doc: 'held out' for doc in held_out},
             **{doc: 'in the training set' for doc in docs}} if config.report else {}
    marks = []
    print_samples(marked(sample(run['state_dict'], run['tokenizer'], config), known, marks)
                  for _ in range(config.num_samples))
    if config.report:
        print(f"of {len(marks)} samples, {marks.count('in the training set')} are in the training"
              f" set, {marks.count('held out')} are held out, {marks.count(None)} are new")

def marked(text, known, marks):  # the sample, and with --report what it is
    marks.append(known.get(text))
    return text + (f'  ({marks[-1]})' if marks[-1] else '')

# The instruments, each off by default: --holdout, --report and --gradcheck
def print_losses(start, run, held_out, window, config, end='\n'):  # held out: no backward()
    held = [doc_loss(encode(doc, run['tokenizer']), run['state_dict'], config).data
            for doc in held_out]
    recent = run['losses'][-window:]
    print(f'{start}held-out loss {math.fsum(held) / len(held):.4f} on {len(held)} document'
          f'{"s" * (len(held) > 1)}; training loss {math.fsum(recent) / len(recent):.4f} '
          f'(mean of the last {len(recent)} steps)', end=end)

def print_curve(losses):  # the mean of each tenth of the run: the trend, through the noise
    size = max(1, -(-len(losses) // 10))
    means = [math.fsum(losses[i:i + size]) / len(losses[i:i + size])
             for i in range(0, len(losses), size)]
    print(f'\n--- loss curve: the mean loss of each {size} steps ---', end='')
    for k, mean in enumerate(means):
        print(f'\nsteps {k * size + 1:4d} - {min(k * size + size, len(losses)):4d} | {mean:.4f} '
              + '#' * round(40 * mean / max(means)), end='')

def disagreement(grad, f, weights, direction, h, scale=0.0):  # grad against f()'s slope, relatively
    start, sides = [p.data for p in weights], []
    for shift in (h, -h):  # the central difference quotient of f() along direction
        for p, x, d in zip(weights, start, direction):
            p.data = x + shift * d
        sides.append(f().data)
    for p, x in zip(weights, start):
        p.data = x
    quotient = (sides[0] - sides[1]) / (2 * h)  # then the difference, for their size or scale
    return abs(grad - quotient) / max(abs(grad), abs(quotient), scale) if grad != quotient else 0.0

def op_errors(op):  # op on both sides of 0, alone or beside a Value or a plain number
    points, numbers, errors = (-1.5, -0.6, 0.4, 0.9, 1.7), (-2, -1, -0.5, 0.5, 1.5, 2, 3), []
    for args in [[Value(x), *other] for x in points  # powers take the plain numbers
                 for other in [[], *([Value(y)] for y in points), *([c] for c in numbers)]]:
        try:
            out = op(*args)
            if not isinstance(out, Value):  # a method, not an operation
                return None
            out.backward()
            errors += [disagreement(a.grad, lambda: op(*args), [a], [1], 1e-6)
                       for a in args if isinstance(a, Value)]
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            pass  # another number of operands, a Value for a plain number, outside its domain
    return errors

def gradcheck(docs, tokenizer, state_dict, config, tolerance=1e-6):  # returns the exit status
    # every operation in Value (so a new one too), then the loss along each matrix in turn
    checks = [(f'Value.{name}', op_errors(op)) for name, op in vars(Value).items() if callable(op)]
    checks = [(what, max(errors or [math.inf])) for what, errors in checks if errors is not None]
    loss = lambda: total([doc_loss(encode(doc, tokenizer), state_dict, config) for doc in docs[:3]])
    loss().backward()
    rng = random.Random(0)  # its own generator: the run's is left alone
    for name, mat in state_dict.items():
        weights = [p for row in mat for p in row]
        direction = [rng.choice((-1, 1)) for _ in weights]
        along = math.fsum(p.grad * d for p, d in zip(weights, direction))
        size = math.sqrt(math.fsum(p.grad * p.grad for p in weights))  # along's usual size
        for h in (1e-6, 1e-5, 1e-7):  # another step, if this one crossed a kink of relu
            error = disagreement(along, loss, weights, direction, h, size)
            if error < tolerance:
                break
        checks.append((f'loss along {name}', error))
    print(f'gradcheck: the largest relative error of backward() against central '
          f'differences, which must be below {tolerance:g}')
    for what, error in checks:
        print(f'{error:7.1e}  {"ok" if error < tolerance else "WRONG":5}  {what}')
    wrong = [what for what, error in checks if not error < tolerance]
    print('all agree' if not wrong else 'disagree: ' + ', '.join(wrong))
    return 1 if wrong else 0

def main(argv=()):
    """One run, as the lecture tells it: the settings, the documents, the model,
    training, the samples; and the program's concerns around it, by name."""
    config, saved = configure(argv)
    docs, held_out, dataset = read_dataset(config, saved)
    tokenizer = saved['tokenizer'] if saved else build_tokenizer(docs + held_out)
    unknown = ''.join(sorted(set(config.prompt) - set(tokenizer.chars)))
    if unknown:
        fail(f'--prompt {config.prompt!r}: {unknown!r} is not in the vocabulary '
             f'{"".join(tokenizer.chars)!r}')
    if len(config.prompt) >= config.block_size:
        fail(f'--prompt is {len(config.prompt)} characters long and leaves no position to draw '
             f'in a block of {config.block_size}; shorten it')
    if saved:
        random.setstate(saved['random_state'])  # where the saved run left the generator
        run = dict(saved, dataset=dataset)
    else:
        run = new_run(config, tokenizer, dataset)
    print(f"num docs: {dataset['num_docs']}"
          + (f' ({config.holdout} more held out)' if config.holdout else ''))
    print(f"vocab size: {tokenizer.vocab_size}\nnum params: {len(parameters(run['state_dict']))}")
    if config.gradcheck:
        sys.exit(gradcheck(docs, tokenizer, run['state_dict'], config))
    if config.train:
        train_run(docs, held_out, run, config)
    check_scores(run, config)
    if config.save:
        save(config.save, checkpoint(run, config))
    if config.report:
        print_curve(run['losses'])
    if config.reseed is not None:
        random.seed(config.reseed)
    show_samples(run, docs, held_out, config)

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
