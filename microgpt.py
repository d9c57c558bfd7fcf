"""microgpt: a GPT trained on a list of names, in plain Python and its standard library.
The model is GPT-2's, smaller and simpler: RMSNorm in place of LayerNorm, ReLU in place of
GELU, no biases. It learns from one document at a time, one scalar at a time, so that every
multiplication it does can be read here: no tensors, no batches."""
import math
import random
from types import SimpleNamespace

# Settings: everything a run may choose, in one place
settings = SimpleNamespace(
    seed=42,             # one seed for all chance: the shuffle, the weights, the samples
    n_layer=1,           # depth: how many transformer blocks, one after the other
    n_embd=16,           # width: the length of the vector that stands for each token
    block_size=16,       # the longest context the model sees (input.txt's longest name: 15)
    n_head=4,            # attention heads, each looking at n_embd // n_head dimensions
    learning_rate=0.01,  # Adam's first step size; it falls linearly towards 0 over the run
    num_steps=1000,      # training steps, one document each
    temperature=0.5,     # sampling: below 1 plays safe, above 1 takes chances
    num_samples=20,      # how many new documents to invent
    prompt='',           # text that every sample starts with
)

# Dataset: documents, one per line of a text file (here, one name per line)
def load_docs(path):  # each line a document: the model learns what documents look like
    with open(path, encoding='utf-8-sig') as f:
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
        topo, visited = [], set()
        def build_topo(v):  # each node placed after all the nodes it was made from
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        del build_topo  # housekeeping, not the algorithm (see the Notes)
        self.grad = 1  # then the chain rule, from the loss down to every weight
        for v in reversed(topo):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad  # +=: a Value used twice sums both paths

def total(values):  # a0 + a1 + ... as one node;  d/da_i = 1
    data = 0
    for v in values:
        data += v.data
    return Value(data, tuple(values), (1,) * len(values))
def dot(a, b):  # a0*b0 + a1*b1 + ... as one node, as a matmul is one operation
    data, children, local_grads = 0, [], []
    for ai, bi in zip(a, b):
        data += ai.data * bi.data
        children += [ai, bi]  # d/da_i = b_i, d/db_i = a_i
        local_grads += [bi.data, ai.data]
    return Value(data, tuple(children), tuple(local_grads))

# Parameters: the model's knowledge, small random numbers at first, learned by training
def matrix(nout, nin, std=0.08):  # random, so that no two neurons start alike
    return [[Value(random.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]
def init_state_dict(vocab_size, config):
    n_embd = config.n_embd
    state_dict = {'wte': matrix(vocab_size, n_embd),         # token embeddings
                  'wpe': matrix(config.block_size, n_embd),  # position embeddings
                  'lm_head': matrix(vocab_size, n_embd)}     # vector -> next-token scores
    for i in range(config.n_layer):
        for name in ('attn_wq', 'attn_wk', 'attn_wv', 'attn_wo'):  # query, key, value, out
            state_dict[f'layer{i}.{name}'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.mlp_fc1'] = matrix(4 * n_embd, n_embd)  # 4x wider, as in GPT-2
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

def attention(x, pos_id, li, cache, state_dict, config):  # pos_id unused: RoPE would rotate
    # q and k by it. Each head mixes the values so far, weighted by how well q fits each key
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

def mlp(x, li, state_dict, config):  # each position on its own: wider, a kink, narrower again
    x = linear(x, state_dict[f'layer{li}.mlp_fc1'])
    x = [xi.relu() for xi in x]  # without it, the two linear layers would be one
    return linear(x, state_dict[f'layer{li}.mlp_fc2'])

def gpt(token_id, pos_id, cache, state_dict, config):  # the scores of every next token
    tok_emb = state_dict['wte'][token_id]  # what the token is
    pos_emb = state_dict['wpe'][pos_id]    # where it is
    x = [t + p for t, p in zip(tok_emb, pos_emb)]
    x = rmsnorm(x)  # not redundant: the residual connections below go around the later norms
    for li in range(config.n_layer):
        x_residual = x  # 1) attention: gather what the earlier positions hold
        x = attention(rmsnorm(x), pos_id, li, cache, state_dict, config)
        x = [a + b for a, b in zip(x, x_residual)]  # added, not replaced: gradients flow back
        x_residual = x  # 2) MLP: think about what was gathered
        x = mlp(rmsnorm(x), li, state_dict, config)
        x = [a + b for a, b in zip(x, x_residual)]
    return linear(x, state_dict['lm_head'])

# Training: a document's loss is the mean of -log(probability of the true next token)
beta1, beta2, eps_adam = 0.85, 0.99, 1e-8  # m, v keep 85%, 99% of their past; eps: no / 0

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
def adam_step(params, m, v, step, config):  # steps of about lr_t, whatever the gradient's size
    lr_t = config.learning_rate * (1 - step / config.num_steps)  # big steps first, small last
    # the bias corrections undo m's and v's pull towards their start at 0
    correction1, correction2 = 1 - math.pow(beta1, step + 1), 1 - math.pow(beta2, step + 1)
    for i, p in enumerate(params):
        m[i] = beta1 * m[i] + (1 - beta1) * p.grad
        v[i] = beta2 * v[i] + (1 - beta2) * math.pow(p.grad, 2)
        m_hat = m[i] / correction1
        v_hat = v[i] / correction2
        p.data -= lr_t * m_hat / (v_hat ** 0.5 + eps_adam)
        p.grad = 0  # backward() adds into grad, so the next one starts from 0

def train_step(docs, step, tokenizer, state_dict, m, v, config):  # one document, one update
    tokens = encode(docs[step % len(docs)], tokenizer)  # the dataset over and over
    loss = doc_loss(tokens, state_dict, config)
    loss.backward()
    adam_step(parameters(state_dict), m, v, step, config)
    return loss.data
def print_step(step, loss, config):  # on one line that each step writes over
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
            probs = [p.data for p in softmax([l / config.temperature for l in logits])]
            token_id = random.choices(range(tokenizer.vocab_size), weights=probs)[0]
            if token_id == tokenizer.BOS:  # the model ended the document
                break
        out.append(token_id)
    return decode(out, tokenizer)
def print_samples(texts):
    print("\n--- inference (new, hallucinated names) ---")
    for sample_idx, text in enumerate(texts):
        print(f"sample {sample_idx+1:2d}: {text}")

# The run: everything above, in order, on input.txt in the current folder (makemore's names)
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
    losses = []
    for step in range(config.num_steps):
        losses.append(train_step(docs, step, tokenizer, state_dict, m, v, config))
        print_step(step, losses[-1], config)
    print_samples(sample(state_dict, tokenizer, config) for _ in range(config.num_samples))
    return state_dict, tokenizer, losses  # to look inside, or to sample again

# The program: the command line, the download, checkpoints, the learner's instruments,
# and each failure in one line on stderr. It follows whatever the lecture builds: shapes
# come from init_state_dict(), settings from `settings`, the lines it prints from the
# lecture's print functions. It runs wherever Python does: what only some systems have
# (SIGHUP, signal masks, resource limits) is used where it is, and done without elsewhere.
#
# Notes: why the lecture is written as it is.
# - The bits: it computes the original program's very numbers, on CPython 3.8 and newer
#   and PyPy, as it keeps the original's operations in their order: -a is a * -1,
#   a - b is a + (-b), a / b is a * b ** -1, the loss is (1 / n) * the sum. math.pow is
#   C's pow() everywhere, where PyPy's x ** 2 is x * x (Adam's g ** 2 too): rounded apart.
# - total() and dot() are one node where the original chains two-input additions (7x as
#   fast): the same numbers added in the same order, in a loop (sum() compensates its
#   rounding from 3.12 on), each child's gradient in the same order (a0, b0, a1, ...).
# - Nodes keep children and local derivatives as data, not closures: reference counting
#   frees each step's graph, and the script pauses CPython's cycle collector (1.12x; PyPy
#   needs it on). build_topo() refers to itself, a cycle that would hold the graph until
#   the collector ran, so backward() deletes it. The graph grows about 25 nodes deeper a
#   layer: main() lifts Python's recursion limit (1000 calls) to fit the model.
# - The program stands in for matrix() once, with matrix_shape(): to size a model.
import argparse, contextlib, functools, gc, io, json, os, re, shlex, signal, stat, sys, tempfile
DEFAULT_INPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'input.txt')
NAMES_URL = 'https://raw.githubusercontent.com/karpathy/makemore/988aa59/names.txt'
NAMES_SHA256 = '0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d'
CHECKPOINT_FORMAT, CHECKPOINT_VERSION = 'microgpt checkpoint', 2  # what --save writes
CHECKPOINT_KEYS = ('format', 'version', 'settings', 'step', 'losses', 'dataset', 'vocab',
                   'state_dict', 'adam_m', 'adam_v', 'random_state')
STOP_SIGNALS = tuple(getattr(signal, name) for name in ('SIGINT', 'SIGTERM', 'SIGHUP')
                     if hasattr(signal, name))  # each saves a --save run first
LONGEST_NUMBER = 4300  # digits: Python 3.11 on reads no longer whole number from text

def print_error(message):  # on stderr, in one line whatever the message holds: a file name may
    print(''.join(c if c.isprintable() else repr(c)[1:-1] for c in message), file=sys.stderr)
def fail(message, status=2):  # bad input is no crash
    print_error(f'microgpt.py: error: {message}')
    sys.exit(status)
def shown(x):  # a value from a file or the command line, shown in a message of one short line
    return repr(x) if len(repr(x)) <= 40 else repr(x)[:36] + '...'

# The command line: an option for each setting of the lecture, and the program's own
def whole_number(least):  # an argparse type: a whole number, `least` or more
    def parse(text):
        if len(text) > LONGEST_NUMBER or not re.fullmatch(r'\s*[-+]?\d+(_\d+)*\s*', text):
            raise argparse.ArgumentTypeError(f'invalid whole number value: {shown(text)}')
        number = int(text)
        if number < least:
            raise argparse.ArgumentTypeError(f'must be at least {least}, got {shown(number)}')
        return number
    return parse
def finite_number(text):  # an argparse type: a number that a checkpoint can record
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'invalid number value: {shown(text)}')
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f'must be a finite number, got {shown(text)}')
    return number
def positive_number(text):  # an argparse type: a finite number above 0
    if not finite_number(text) > 0:
        raise argparse.ArgumentTypeError(f'must be a finite number above 0, got {shown(text)}')
    return float(text)
def file_name(text):  # an argparse type: any name but the empty one
    if not text:
        raise argparse.ArgumentTypeError('needs a file name, not an empty one')
    return text
def option_row(kind, metavar, what, default=None):  # a row of the option table
    return SimpleNamespace(type=kind, metavar=metavar, help=what, default=default)

SETTING_OPTIONS = {  # the lecture's settings as options; their defaults are the lecture's
    'seed': option_row(whole_number(0), 'N', 'seeds the shuffle, the weights and the samples'),
    'n_layer': option_row(whole_number(1), 'N', 'transformer blocks, one after the other'),
    'n_embd': option_row(whole_number(1), 'N', "width of every token's vector"),
    'block_size': option_row(whole_number(1), 'N', 'longest context; longer documents are cut'),
    'n_head': option_row(whole_number(1), 'N', 'attention heads, each n_embd // n_head wide'),
    'learning_rate': option_row(positive_number, 'X', "Adam's first step size; it falls to 0"),
    'num_steps': option_row(whole_number(0), 'N', 'training steps; 0 only samples'),
    'temperature': option_row(positive_number, 'X', 'below 1 plays safe, above 1 takes chances'),
    'num_samples': option_row(whole_number(0), 'N', 'how many new documents to invent'),
    'prompt': option_row(str, 'TEXT', 'every sample starts with TEXT, which the model reads')}
ADDED = {int: (whole_number(-math.inf), 'N'), float: (finite_number, 'X'), str: (str, 'TEXT')}
OPTIONS = {'input': option_row(file_name, 'FILE', 'UTF-8 text file, one document per line; the '
                               'names list, the default, is downloaded if missing', DEFAULT_INPUT)}
for name, default in vars(settings).items():
    if name in SETTING_OPTIONS:
        OPTIONS[name] = SimpleNamespace(**{**vars(SETTING_OPTIONS[name]), 'default': default})
    elif type(default) in ADDED:  # a setting a student adds is an option too
        OPTIONS[name] = option_row(*ADDED[type(default)], 'a setting of the lecture', default)
OPTIONS.update(  # the type bool makes a flag
    save=option_row(file_name, 'FILE', 'keep the run in FILE (JSON) at its end or its stop'),
    load=option_row(file_name, 'FILE', 'go on from a FILE written by --save (see below)'),
    holdout=option_row(whole_number(0), 'N', 'keep N documents out of training, for a loss', 0),
    report=option_row(bool, None, 'show the loss curve; mark samples that are documents', False),
    gradcheck=option_row(bool, None, 'check backward() by finite differences, and stop', False))
SAMPLING_OPTIONS = ('temperature', 'num_samples', 'prompt')  # each run of a checkpoint chooses
SAVED_SETTINGS = [name for name in vars(settings)
                  if name in OPTIONS and name not in SAMPLING_OPTIONS] + ['holdout']
LOAD_RULES = """With --load FILE, the run is FILE's: it goes on to FILE's --num_steps as if it
had never stopped, on the dataset FILE names (or the same documents in --input); its
other settings cannot change. --num_steps=0 only samples; --seed draws other samples."""

def usage_error(message):  # argparse's complaint in one line, not a usage dump
    fail(f'{message}; see --help')
def parse_options(argv):  # {name: value} of the options given, and of no other
    parser = argparse.ArgumentParser(description='Train a tiny GPT on a text file, one document '
                                     'per line, then sample from it.', epilog=LOAD_RULES)
    parser.error = usage_error
    for name, option in OPTIONS.items():  # a default of None: "not given"
        if option.type is bool:
            parser.add_argument('--' + name, action='store_true', default=None, help=option.help)
        else:
            default = f' (default: {option.default})' if option.default not in (None, '') else ''
            parser.add_argument('--' + name, metavar=option.metavar, type=option.type,
                                help=option.help + default)
    parser.print_help = functools.partial(print_help, parser)
    return {name: value for name, value in vars(parser.parse_args(argv)).items()
            if value is not None}

def print_help(parser):  # argparse's own hides a failure to write the help; print() does not
    print(parser.format_help(), end='')
def configure(argv):  # the options given, else the checkpoint's (--load), else the defaults
    given = parse_options(argv)
    try:
        saved = read_checkpoint(given['load']) if 'load' in given else None
    except argparse.ArgumentTypeError as e:
        fail(f"--load {given['load']} is not usable: {e}; pass a file written by --save")
    config = SimpleNamespace(**{name: option.default for name, option in OPTIONS.items()})
    if saved:
        keep_saved_settings(given, saved['settings'], given['load'])
        config.input = saved['dataset']['path']
    vars(config).update(given)
    if saved:
        vars(config).update(saved['settings'])  # over any given: the run is the file's
    config.train = given.get('num_steps') != 0 or not saved
    config.reseed = given.get('seed') if saved else None  # with --load: other samples
    check_settings(config)
    if config.save:
        check_save(config)
    return config, saved
def keep_saved_settings(given, saved_settings, path):  # with --load, the run is the file's
    for name, value in saved_settings.items():
        only_samples = name == 'num_steps' and given.get(name) == 0
        if name in given and name != 'seed' and not only_samples:
            hint = ', or pass --num_steps=0 to only sample' if name == 'num_steps' else ''
            fail(f'--{name} comes from {path} (which says {shown(value)}); leave it out{hint}')
def check_settings(config):  # what no option can tell alone, checked before any work
    if config.n_embd % config.n_head:  # every head gets the same number of dimensions
        fail(f'--n_embd={config.n_embd} must be divisible by --n_head={config.n_head}, '
             f'so that every head gets the same number of dimensions')
    if math.isinf(1 / config.temperature):
        fail(f'--temperature={config.temperature} is so small that dividing by it overflows')
    have = memory_here()
    for name in ('n_layer', 'n_embd', 'block_size') if have else ():  # a byte each at least
        if getattr(config, name) > have:
            fail(f'--{name}={shown(getattr(config, name))} is more than the {gib(have)} GiB of '
                 f'memory here could hold; make it smaller')

def memory_here():  # the bytes this process may use, where the system says: its memory, or
    sizes = []      # less under a limit (ulimit); None where it says neither (Windows)
    if hasattr(os, 'sysconf') and 'SC_PHYS_PAGES' in os.sysconf_names:
        sizes.append(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))
    with contextlib.suppress(ImportError):  # POSIX only
        import resource
        sizes += [resource.getrlimit(cap)[0] for cap in (resource.RLIMIT_AS, resource.RLIMIT_DATA)]
    return min([size for size in sizes if size > 0], default=None)  # RLIM_INFINITY is -1
def gib(size):  # bytes in GiB, rounded, for a message
    return f'{(size + 2**29) // 2**30:,}'

# The dataset: read whole or refused in one line; the names list downloaded if missing
def read_docs(path):
    hint = 'pass --input=FILE with a text file, one document per line'
    if not os.path.exists(path):
        fail(f'{path} does not exist; {hint}')
    mode = os.stat(path).st_mode  # a device (/dev/zero) would never end, a FIFO would wait
    if not stat.S_ISREG(mode):
        kind = 'a directory' if stat.S_ISDIR(mode) else 'a device, not a file' if \
            stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else 'not a regular file'
        fail(f'{path} is {kind}; {hint}')
    try:  # a size of 0: empty, or a file of /proc, which has no end to read to
        docs = load_docs(path) if os.path.getsize(path) else []
    except UnicodeDecodeError:
        fail(f'{path} is not UTF-8 text; save it with the UTF-8 encoding')
    except OSError as e:
        fail(f'cannot read {path}: {e.strerror}')
    if not docs:
        fail(f'{path} has no documents, every line is blank; {hint}')
    unprintable = sorted(ch for ch in set(''.join(docs)) if not ch.isprintable())
    if unprintable:  # a sample holding one would not print as one line
        fail(f'{path} holds {unprintable[0]!r}, a character that cannot be printed; take it out')
    return docs

def read_dataset(config, saved):  # the documents to train on, the held-out ones, their record
    if saved and not (config.train or config.report or config.gradcheck):
        return [], [], saved['dataset']  # a checkpoint that is only sampled needs none
    if config.input == DEFAULT_INPUT and not os.path.exists(DEFAULT_INPUT):
        download_names(DEFAULT_INPUT)
    docs = read_docs(config.input)
    digest = dataset_digest(docs) if saved or config.save else None
    if saved and digest != saved['dataset']['sha256']:
        fail(f"{config.input} does not hold the documents {config.load} was trained on "
             f"({shown(saved['dataset']['path'])}); pass those as --input")
    if saved and saved['tokenizer'].chars != build_tokenizer(docs).chars:
        fail(f'--load {config.load} is not usable: its vocabulary is not that of its dataset')
    random.seed(config.seed)  # as run() does
    random.shuffle(docs)
    held_out = docs[:config.holdout]
    kept_out = set(held_out)
    training = [doc for doc in docs[config.holdout:] if doc not in kept_out]  # nor a copy
    if not training:
        fail(f'--holdout={config.holdout} leaves no document to train on; hold out fewer')
    return training, held_out, {'path': os.path.abspath(config.input),
                                'num_docs': len(training), 'sha256': digest}
def dataset_digest(docs):  # imported here: hashlib costs every run that imports it 3 MB
    import hashlib
    return hashlib.sha256('\n'.join(docs).encode()).hexdigest()
def download_names(path):
    import hashlib, http.client, urllib.request  # only here: they cost every other run memory
    print_error(f'microgpt.py: {path} is missing; downloading the names list from {NAMES_URL}')
    hint = f'put a text file at {path} or pass --input=FILE'
    try:
        with urllib.request.urlopen(NAMES_URL, timeout=30) as response:
            content = response.read()
    except (OSError, http.client.HTTPException) as e:
        fail(f'could not download {NAMES_URL} ({getattr(e, "reason", e)}); {hint}')
    if hashlib.sha256(content).hexdigest() != NAMES_SHA256:
        fail(f'{NAMES_URL} sent something other than the names list; {hint}')
    save(path, content)

# Files written whole: a temporary file beside the target, renamed over it once complete
@contextlib.contextmanager
def signals_held():  # a stop signal waits meanwhile, where the system can hold one back
    if not hasattr(signal, 'pthread_sigmask'):  # Windows: stop_on_signal() keeps a save whole
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)

def temporary_beside(target):  # (fd, name) of a new file, named short to fit where target fits
    return tempfile.mkstemp(dir=os.path.dirname(target), prefix='microgpt-', suffix='.part')
def write_whole(path, data):  # the file is whole, or as it was
    target = os.path.realpath(path)  # through a link, its target
    with signals_held():
        fd, partial = temporary_beside(target)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(data)
            os.chmod(partial, 0o644)  # mkstemp makes it private; it is no secret
        except BaseException:  # a full disk, say: nothing is left behind
            os.remove(partial)
            raise
        try:
            os.replace(partial, target)
        except OSError as e:  # the data is whole all the same: kept, and said where
            fail(f'could not put {path} in place ({e.strerror}); it is whole in {partial}: '
                 f'move it there yourself', status=1)
def check_save(config):  # before training, tried the way save() will write it
    path, hint = config.save, 'name another file'
    if os.path.basename(path) in ('', '.', '..'):  # newdir/ would become a file "newdir"
        fail(f'--save {path} names a folder, not a file; {hint}')
    try:  # a missing folder, no permission, a name too long, a current folder that is gone
        target = os.path.realpath(path)  # as write_whole() sees it
        if target == os.path.realpath(config.input):  # even one still to be downloaded
            fail(f'--save {path} is the dataset; {hint}')
        if os.path.exists(target):
            check_replaceable(path, target)
        with signals_held():  # a new name is made and taken away; then a file beside it
            if not os.path.exists(target):
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
                os.remove(target)
            fd, partial = temporary_beside(target)
            os.close(fd)
            os.remove(partial)
    except OSError as e:
        fail(f'--save {path} cannot be written ({e.strerror}); {hint}')
def check_replaceable(path, target):  # only a checkpoint; not a folder, a device, a FIFO
    try:
        read_checkpoint(target)
    except argparse.ArgumentTypeError as e:
        fail(f'--save {path} would replace what is not a checkpoint ({e}); name another file')

# Checkpoints: a file is data, and may hold anything; each part is checked before use
def require(ok, why):  # one check of a checkpoint, refused by an error that no bug raises
    if not ok:
        raise argparse.ArgumentTypeError(why)
def a_number(x):  # no text, no null, no NaN, no infinity, nothing a float cannot hold
    require(type(x) in (int, float) and abs(x) <= sys.float_info.max,  # NaN fails it too
            f'{shown(x)} is not a finite number')
    return float(x)
def numbers(xs, n, why):  # a list of n numbers, counted before any is converted
    require(isinstance(xs, list) and len(xs) == n, why)
    return [a_number(x) for x in xs]

def read_checkpoint(path):  # the run in a file written by --save, or the reason it is refused
    require(os.path.isfile(path) or not os.path.exists(path), 'it is not a regular file')
    try:  # whatever the file holds, reading it fails in one of these ways at most
        with open(path, encoding='utf-8') as f:
            ck = json.load(f)
    except OSError as e:
        raise argparse.ArgumentTypeError(f'it cannot be read ({e.strerror})')
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError('it is not UTF-8 text')
    except json.JSONDecodeError as e:  # a file cut short, too
        raise argparse.ArgumentTypeError(f'it is not JSON from line {e.lineno}, column {e.colno}')
    except (ValueError, OverflowError):  # a whole number of over 4300 digits (Python 3.11 on)
        raise argparse.ArgumentTypeError('it holds a number too long to read')
    except RecursionError:
        raise argparse.ArgumentTypeError('its brackets nest deeper than Python can read')
    except MemoryError:
        raise argparse.ArgumentTypeError('it is too big for the memory here')
    return rebuild(ck)

def check_entries(ck):  # the entries --save writes, and no other, in a fixed order
    require(isinstance(ck, dict) and ck.get('format') == CHECKPOINT_FORMAT,
            'it is not a microgpt checkpoint')
    require(ck.get('version') == CHECKPOINT_VERSION,
            f'it is of version {shown(ck.get("version"))}; this program reads {CHECKPOINT_VERSION}')
    for key in CHECKPOINT_KEYS:
        require(key in ck, f'it lacks {shown(key)}')
    for key in sorted(ck):
        require(key in CHECKPOINT_KEYS, f'it holds an unknown {shown(key)}')
    require(isinstance(ck['settings'], dict), 'its settings are not a JSON object')
    for name in SAVED_SETTINGS:
        require(name in ck['settings'], f'it lacks the setting {shown(name)}')
    for name in sorted(ck['settings']):
        require(name in SAVED_SETTINGS, f'it holds an unknown setting {shown(name)}')
def saved_setting(name, value):  # a setting from a checkpoint, checked by its option's type
    option, kind = OPTIONS[name], type(OPTIONS[name].default)
    require(type(value) is kind or (type(value), kind) == (int, float),  # 1 for 1.0 is fine
            f'its {name} is {shown(value)}, not of type {kind.__name__}')
    try:
        return option.type(str(value))
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f'its {name} {e}')
def random_state(state):  # a state of Python's generator, as random.getstate() gives it
    require(isinstance(state, list) and len(state) == 3 and type(state[0]) is int
            and state[0] == 3 and isinstance(state[1], list) and len(state[1]) == 625
            and all(type(x) is int and 0 <= x < 2**32 for x in state[1]) and state[1][-1] <= 624
            and (state[2] is None or type(state[2]) is float and math.isfinite(state[2])),
            "its random_state is not a state of Python's generator")
    return (3, tuple(state[1]), state[2])
def matrix_shape(nout, nin, std=0.08):  # a matrix of init_state_dict(), as its size alone
    return nout, nin
def model_shapes(vocab_size, config):  # {name: (rows, columns)} of the model, no weight drawn
    global matrix
    lecture_matrix, matrix = matrix, matrix_shape  # the one stand-in (see the Notes)
    try:
        return init_state_dict(vocab_size, config)
    finally:
        matrix = lecture_matrix
def count_weights(vocab_size, config):  # from numbers alone: one layer and two tell a layer's
    one, two = (sum(rows * columns for rows, columns in model_shapes(
        vocab_size, SimpleNamespace(**{**vars(config), 'n_layer': n_layer})).values())
        for n_layer in (1, 2))
    return one + (config.n_layer - 1) * (two - one)

def rebuild(ck):  # the run in a parsed checkpoint, every part checked, its model rebuilt
    check_entries(ck)
    named = {name: saved_setting(name, ck['settings'][name]) for name in SAVED_SETTINGS}
    config = SimpleNamespace(**{**vars(settings), **named})
    require(config.n_embd % config.n_head == 0, 'its n_embd is not divisible by its n_head')
    step, vocab, dataset = ck['step'], ck['vocab'], ck['dataset']
    require(type(step) is int and 0 <= step <= named['num_steps'],
            f'its step, {shown(step)}, is not a step of its run')
    require(isinstance(vocab, str) and vocab != '' and vocab.isprintable()
            and list(vocab) == sorted(set(vocab)),
            'its vocab is not distinct printable characters, sorted')
    require(isinstance(dataset, dict) and sorted(dataset) == ['num_docs', 'path', 'sha256']
            and [type(dataset[key]) for key in ('path', 'num_docs', 'sha256')] == [str, int, str]
            and dataset['num_docs'] > 0, 'its dataset is not described')
    tokenizer = build_tokenizer([vocab])
    state_dict = rebuild_weights(ck['state_dict'], tokenizer.vocab_size, config)
    n = len(parameters(state_dict))  # Adam's buffers: one number for each weight it moves
    m, v = (numbers(ck[key], n, f'its adam_m and adam_v are not {n} numbers each')
            for key in ('adam_m', 'adam_v'))
    require(min(v, default=0) >= 0, 'its adam_v holds a negative number: no mean of squares is')
    losses = numbers(ck['losses'], step, f'its losses are not {step} numbers')
    require(min(losses, default=0) >= 0, 'its losses hold a negative number: no loss is')
    return {'settings': named, 'step': step, 'dataset': dataset, 'tokenizer': tokenizer,
            'losses': losses, 'state_dict': state_dict, 'm': m, 'v': v,
            'random_state': random_state(ck['random_state'])}

def rebuild_weights(matrices, vocab_size, config):  # the state_dict, each matrix of its shape
    require(isinstance(matrices, dict), 'its state_dict is not a JSON object')
    layers = min(config.n_layer, len(matrices) + 1)  # K matrices lack one of K + 1 layers'
    shapes = model_shapes(vocab_size, SimpleNamespace(**{**vars(config), 'n_layer': layers}))
    for name in shapes:
        require(name in matrices, f'it has no {name}, which its model has')
    for name in sorted(matrices):
        require(name in shapes, f'its state_dict holds {shown(name)}, which its model has not')
    for name, (nout, nin) in shapes.items():
        rows = matrices[name]
        require(isinstance(rows, list) and len(rows) == nout
                and all(isinstance(row, list) and len(row) == nin for row in rows),
                f'its {name} is not the {shown(nout)} x {shown(nin)} matrix of its model')
    return {name: [[Value(a_number(x)) for x in row] for row in matrices[name]] for name in shapes}
def checkpoint(run, config):  # all that sampling and going on need, as plain data
    return {'format': CHECKPOINT_FORMAT, 'version': CHECKPOINT_VERSION,
            'settings': {name: getattr(config, name) for name in SAVED_SETTINGS},
            'step': run['step'], 'losses': run['losses'][:], 'dataset': run['dataset'],
            'vocab': ''.join(run['tokenizer'].chars),
            'state_dict': {name: [[p.data for p in row] for row in mat]
                           for name, mat in run['state_dict'].items()},
            'adam_m': run['m'][:], 'adam_v': run['v'][:], 'random_state': random.getstate()}
def checkpoint_text(ck):  # JSON, as bytes, with a line for each entry and each matrix row
    to_json = functools.partial(json.dumps, allow_nan=False)
    matrices = ',\n '.join(f'{to_json(name)}: [\n  ' + ',\n  '.join(map(to_json, mat)) + ']'
                           for name, mat in ck['state_dict'].items())
    entries = [f'{to_json(key)}: ' + ('{\n ' + matrices + '}' if key == 'state_dict'
                                      else to_json(value)) for key, value in ck.items()]
    return ('{\n' + ',\n'.join(entries) + '\n}\n').encode()
def save(path, data):  # write_whole(), or a line that says why not
    try:
        write_whole(path, data)
    except OSError as e:
        fail(f'could not save {path} ({e.strerror})', status=1)

# The run: new or loaded, trained with its progress line, stopped cleanly
def new_run(config, tokenizer, dataset, longest):  # random weights, once known to fit in memory
    n, have = count_weights(tokenizer.vocab_size, config), memory_here()
    positions = min(config.block_size, longest + 1)  # bytes: 200 a weight, 80 more a position;
    needed = n * (200 + 80 * positions) + config.n_layer * positions ** 2 * (  # attention looks
        1100 * config.n_head + 60 * config.n_embd)  # at every pair of positions, in each head
    if have is not None and needed > have:
        fail(f'a model of {n:,} weights needs about {gib(needed)} GiB of memory to train, '
             f'more than the {gib(have)} GiB here; make it smaller')
    state_dict = init_state_dict(tokenizer.vocab_size, config)
    m, v = init_adam(parameters(state_dict))
    return {'step': 0, 'losses': [], 'dataset': dataset, 'tokenizer': tokenizer,
            'state_dict': state_dict, 'm': m, 'v': v}
def resume_command(config):  # what goes on from the checkpoint in config.save, as this run
    words = [os.path.basename(sys.executable), sys.argv[0], '--load=' + config.save,
             '--save=' + config.save]
    words += [f'--{name}={getattr(config, name)}' for name in SAMPLING_OPTIONS  # not saved
              if getattr(config, name) != OPTIONS[name].default]
    words += [f'--seed={config.reseed}'] if config.reseed is not None else []
    words += ['--report'] if config.report else []
    if os.name == 'nt':  # for cmd.exe, not a POSIX shell
        import subprocess
        return subprocess.list2cmdline(words)
    return ' '.join(shlex.quote(word) for word in words)
def stop_on_signal(signum, frame):  # the first signal stops the run; those after it wait
    if hasattr(signal, 'pthread_sigmask'):  # for the exit, which drops them, and one on its
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # way finds a stop under way:
    for each in STOP_SIGNALS:  # the save it starts is finished, its status the exit's
        signal.signal(each, signal_during_stop)
    raise KeyboardInterrupt(signum)
def signal_during_stop(signum, frame):  # not SIG_IGN: one already on its way would be said
    pass                                # to be "ignored due to race condition" on stderr

def end_progress_line():  # stdout may be gone (a closed pipe): the message that follows is
    with contextlib.suppress(OSError):  # still said, and the failure to write is said no more
        print()
def interrupted(stop, note=''):  # exits as a shell reports a process that a signal stopped
    end_progress_line()
    signum = stop.args[0] if stop.args else signal.SIGINT  # stop_on_signal() passes its signal
    by = '' if signum == signal.SIGINT else f' by {signal.Signals(signum).name}'
    print_error(f'microgpt.py: interrupted{by}{note}')
    sys.exit(128 + signum)
def diverged(why, config):
    end_progress_line()
    fail(f'{why}; try a smaller --learning_rate than {config.learning_rate}')
def frames(error):  # the frames an exception came up through, from where it was caught
    tb = error.__traceback__
    while tb:
        yield tb.tb_frame
        tb = tb.tb_next
def left_the_floats(error):  # an overflow, or a math function that refuses a number inside
    operations = [getattr(op, '__code__', None) for op in vars(Value).values()]  # Value (in
    return isinstance(error, OverflowError) or any(  # words that vary with Python's version)
        frame.f_code in operations for frame in frames(error))

def checked_step(docs, step, run, config):  # train_step(), or one line if training diverged
    try:
        loss = train_step(docs, step, run['tokenizer'], run['state_dict'], run['m'], run['v'],
                          config)
    except (OverflowError, ValueError) as error:
        if not (left_the_floats(error) and (run['losses'] or config.load)):
            raise  # a new run before a finite loss: no divergence but a bug, at its line
        broke_down('a number grew too big for a float' if isinstance(error, OverflowError)
                   else "a number fell outside a function's domain", step, run, config)
    if not math.isfinite(loss):
        if not (run['losses'] or config.load):
            raise ArithmeticError(f'the loss of the first step is {loss}, before any update')
        broke_down(f'the loss is {loss}', step, run, config)
    if (config.save or step + 1 == config.num_steps) and not finite(run):  # after a finite loss
        diverged(f'training diverged at step {step + 1} (the weights are no longer finite)', config)
    return loss
def finite(run):  # every weight and Adam's buffers: what a checkpoint and sampling need
    weights = [p.data for mat in run['state_dict'].values() for row in mat for p in row]
    return all(math.isfinite(x) for x in weights + run['m'] + run['v'])
def broke_down(why, step, run, config):  # after a finite loss, the learning rate's doing
    if run['losses']:
        diverged(f'training diverged at step {step + 1} ({why})', config)
    fail(f'the weights in {config.load} give numbers that are not finite at step {step + 1} '
         f'({why}); go on from another checkpoint')

def train(docs, held_out, run, config):  # the steps left; with --save, each whole one kept
    for step in range(run['step'], config.num_steps) if config.train else []:
        loss = checked_step(docs, step, run, config)
        run['losses'].append(loss)
        run['step'] = step + 1
        if config.save:  # before the step is shown: a step shown is a step saved
            run['last_whole'] = checkpoint(run, config)  # in one assignment: whole, or as before
        print_step(step, loss, config)
        print_interim_loss(run, held_out, config)

def train_and_save(docs, held_out, run, config):  # a stop, or too little memory, saves the
    run['last_whole'] = checkpoint(run, config) if config.save else None  # last whole step
    try:
        train(docs, held_out, run, config)
        if config.save:
            save(config.save, checkpoint_text(run['last_whole']))
    except (KeyboardInterrupt, MemoryError, OSError) as stop:  # it may land in mid-update
        if not config.save or isinstance(stop, OSError) and stop.filename is not None:
            raise  # an OSError with no file's name is stdout's (see script())
        for frame in list(frames(stop))[1:]:  # the step's graph is let go before the save
            frame.clear()
        save(config.save, checkpoint_text(run['last_whole']))  # no second signal can stop it now
        note = (f"; step {run['last_whole']['step']} of {config.num_steps} is saved in "
                f"{config.save}; go on with: {resume_command(config)}")
        if isinstance(stop, KeyboardInterrupt):
            interrupted(stop, note)
        end_progress_line()
        fail(('out of memory' if isinstance(stop, MemoryError) else 'cannot write the output')
             + note, status=1)
    if held_out and run['losses']:
        print_held_out_loss('\n', run, held_out, config, end='')
def print_interim_loss(run, held_out, config):  # at each tenth of the run, on a small share
    window = tenth(config.num_steps)
    if held_out and run['step'] % window == 0 and run['step'] < config.num_steps:
        print_held_out_loss(f"step {run['step']:4d} / {config.num_steps:4d} | ", run,
                            held_out[:max(1, window // 5)], config)

def check_scores(run, config):  # the first scores that sampling draws from, finite numbers
    logits = gpt(run['tokenizer'].BOS, 0, kv_cache(config), run['state_dict'], config)
    if not all(math.isfinite(logit.data) for logit in logits):
        scores_not_finite(config)
    if not all(math.isfinite((logit / config.temperature).data) for logit in logits):  # as sample()
        fail(f'--temperature={config.temperature} makes the scores overflow; try one nearer 1')
def scores_not_finite(config):  # whose doing: the training's, or the file's
    if config.train:
        diverged('the weights no longer give finite scores: training diverged', config)
    fail(f'the weights in {config.load} give scores that are not finite numbers; '
         f'they cannot be sampled')

def show_samples(run, docs, held_out, config):  # with --report, known ones are marked
    known = {**{doc: 'held out' for doc in held_out},
             **{doc: 'in the training set' for doc in docs}} if config.report else {}
    marks = []
    try:
        print_samples(marked(sample(run['state_dict'], run['tokenizer'], config), known, marks)
                      for _ in range(config.num_samples))  # each printed as it is drawn
    except ValueError as error:  # Python 3.10 on: random.choices() refuses scores that are not
        if not any(frame.f_globals['__name__'] == 'random'  # finite, as they may be after the
                   for frame in frames(error)):  # first position
            raise
        scores_not_finite(config)
    if config.report:
        print(f"of {len(marks)} samples, {marks.count('in the training set')} are in the training"
              f" set, {marks.count('held out')} are held out, {marks.count(None)} are new")
def marked(text, known, marks):  # the sample, and with --report what it is
    marks.append(known.get(text))
    return text + (f'  ({marks[-1]})' if marks[-1] else '')
# The instruments, each off by default: --holdout, --report and --gradcheck
def tenth(num_steps):  # a tenth of a run, rounded up: the window of --report and --holdout
    return max(1, (num_steps + 9) // 10)
def mean(xs):  # summed exactly, then divided; a sum beyond the floats (a file's) divided first
    try:
        return math.fsum(xs) / len(xs)
    except OverflowError:
        return math.fsum(x / len(xs) for x in xs)
def print_held_out_loss(start, run, held_out, config, end='\n'):
    held = [doc_loss(encode(doc, run['tokenizer']), run['state_dict'], config).data
            for doc in held_out]  # a forward pass alone: no backward()
    recent = run['losses'][-tenth(config.num_steps):]
    documents = 'document' if len(held) == 1 else 'documents'
    print(f'{start}held-out loss {mean(held):.4f} on {len(held)} {documents}; training loss '
          f'{mean(recent):.4f} (mean of the last {len(recent)} steps)', end=end)
def print_curve(losses):  # the mean of each tenth of the run: the trend, through the noise
    size = tenth(len(losses))
    means = [mean(losses[i:i + size]) for i in range(0, len(losses), size)]
    print(f'\n--- loss curve: the mean loss of each {size} steps ---', end='')
    for k, average in enumerate(means):
        bar = '#' * round(40 * (average / max(means))) if max(means) > 0 else ''
        print(f'\nsteps {k * size + 1:4d} - {min(k * size + size, len(losses)):4d} | '
              f'{average:.4f} ' + bar, end='')

def disagreement(grad, f, weights, direction, h, scale=0.0):  # grad against f()'s slope, relatively
    start, sides = [p.data for p in weights], []
    for shift in (h, -h):  # the central difference quotient of f() along direction
        for p, x, d in zip(weights, start, direction):
            p.data = x + shift * d
        sides.append(f().data)
    for p, x in zip(weights, start):
        p.data = x
    quotient = (sides[0] - sides[1]) / (2 * h)  # then the difference, for their size or scale
    if grad == quotient:
        return 0.0
    return abs(grad - quotient) / max(abs(grad), abs(quotient), scale)
def op_errors(op):  # op on both sides of 0, alone or beside a Value or a plain number
    points, plain, errors = (-1.5, -0.6, 0.4, 0.9, 1.7), (-2, -1, -0.5, 0.5, 1.5, 2, 3), []
    for args in [[Value(x), *other] for x in points  # powers take the plain numbers
                 for other in [[], *([Value(y)] for y in points), *([c] for c in plain)]]:
        try:
            out = op(*args)
            if not isinstance(out, Value):  # a method, not an operation
                return None
            out.backward()
            errors += [disagreement(a.grad, functools.partial(op, *args), [a], [1], 1e-6)
                       for a in args if isinstance(a, Value)]
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            pass  # another number of operands, a Value for a plain number, outside its domain
    return errors
def few_docs_loss(docs, tokenizer, state_dict, config):  # what --gradcheck differentiates
    return total([doc_loss(encode(doc, tokenizer), state_dict, config) for doc in docs[:3]])
def gradient_size(weights):  # the length of their gradient
    return math.sqrt(math.fsum(p.grad * p.grad for p in weights))
def matrix_error(mat, loss, rng, tolerance, least):  # the loss along a random direction in mat
    weights = [p for row in mat for p in row]
    direction = [rng.choice((-1, 1)) for _ in weights]
    along = math.fsum(p.grad * d for p, d in zip(weights, direction))
    # a gradient far below the model's is measured against `least`: at its own scale, rounding
    # or the curvature spoils every step of a difference quotient
    scale, errors = max(gradient_size(weights), least), []
    for h in (1e-6, 1e-5, 1e-7, 1e-4, 1e-3, 1e-2):  # the step neither rounding nor a kink spoils
        errors.append(disagreement(along, loss, weights, direction, h, scale))
        if errors[-1] < tolerance:
            break
    if gradient_size(weights) == 0 and min(errors) < tolerance:
        return None  # no gradient, and the loss is flat along mat: nothing was checked
    return min(errors)  # a gradient of 0 where the loss does change is wrong: a path was cut

def gradcheck(docs, tokenizer, state_dict, config, tolerance=1e-6):  # returns the exit status
    # every operation in Value (so a new one too), then the loss along each matrix in turn
    checks = [(f'Value.{name}', op_errors(op)) for name, op in vars(Value).items() if callable(op)]
    checks = [(what, max(errors or [math.inf])) for what, errors in checks if errors is not None]
    loss = functools.partial(few_docs_loss, docs, tokenizer, state_dict, config)
    loss().backward()
    rng = random.Random(0)  # its own generator: the run's is left alone
    least = 1e-3 * gradient_size([p for mat in state_dict.values() for row in mat for p in row])
    checks += [(f'loss along {name}', matrix_error(mat, loss, rng, tolerance, least))
               for name, mat in state_dict.items()]
    print(f'gradcheck: the largest relative error of backward() against central '
          f'differences, which must be below {tolerance:g}')
    for what, error in checks:
        if error is None:
            print(f'{"-":>7}  {"none":5}  {what}: no gradient, so not checked')
        else:
            print(f'{error:7.1e}  {"ok" if error < tolerance else "WRONG":5}  {what}')
    wrong = [what for what, error in checks if error is not None and not error < tolerance]
    print('all agree' if not wrong else 'disagree: ' + ', '.join(wrong))
    return 1 if wrong else 0

def main(argv=()):  # one run, as the lecture's run() tells it, with the program's concerns
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
        run = new_run(config, tokenizer, dataset, max(len(doc) for doc in docs + held_out))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000 + 100 * config.n_layer))  # Notes
    print(f"num docs: {dataset['num_docs']}"
          + (f' ({config.holdout} more held out)' if config.holdout else ''))
    print(f"vocab size: {tokenizer.vocab_size}\nnum params: {len(parameters(run['state_dict']))}")
    if config.gradcheck:
        sys.exit(gradcheck(docs, tokenizer, run['state_dict'], config))
    if config.train or config.save:
        train_and_save(docs, held_out, run, config)
    if config.report:
        print_curve(run['losses'])
    if config.reseed is not None:
        random.seed(config.reseed)
    if config.num_samples:
        check_scores(run, config)
    show_samples(run, docs, held_out, config)

def script(argv):  # main() as a command: whatever stops it, in one line
    try:
        main(argv)
    except KeyboardInterrupt as stop:  # Ctrl-C: stop at once; the progress line shows the step
        interrupted(stop)
    except MemoryError as error:
        for frame in list(frames(error))[1:]:  # the graph is let go: the message fits
            frame.clear()
        end_progress_line()
        fail('out of memory; try a smaller model (--n_embd, --n_layer, --block_size) or dataset')
    except OSError as error:  # each file the program names says its own errors where it is
        if error.filename is not None:  # read or written: one with no file's name is stdout's
            raise
        fail(f'cannot write the output ({error.strerror})', status=1)
def exit_status(status):  # stdout flushed here, where a failure to write can still be said
    try:
        if sys.stdout:
            sys.stdout.flush()
        return status
    except OSError as error:  # what it holds goes nowhere, or the exit would fail on it again
        with contextlib.suppress(io.UnsupportedOperation):  # a stdout with no file (IDLE's)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if not status:  # a stop or a divergence keeps its own status and line
            print_error(f'microgpt.py: error: cannot write the output ({error.strerror})')
        return status or 1

if __name__ == '__main__':
    if sys.version_info < (3, 8):  # the file still parses on 3.6 and 3.7, so it can say so
        sys.exit(f'microgpt.py: error: needs Python 3.8 or newer, not {sys.version.split()[0]}')
    handlers, collecting = {s: signal.getsignal(s) for s in STOP_SIGNALS}, gc.isenabled()
    limit = sys.getrecursionlimit()
    for signum, handler in handlers.items():
        if handler != signal.SIG_IGN:  # as nohup leaves SIGHUP: ignored still
            signal.signal(signum, stop_on_signal)
    if sys.implementation.name == 'cpython':
        gc.disable()  # see the Notes: the graph has no cycles to collect
    if hasattr(sys.stdout, 'reconfigure'):  # not IDLE's, nor None (stdout closed)
        sys.stdout.reconfigure(encoding='utf-8')  # a dataset in any script prints anywhere
    try:
        script(sys.argv[1:])
        status = 0
    except SystemExit as stopped:  # its line said already
        status = stopped.code
    status = exit_status(status)
    if signal.getsignal(signal.SIGINT) is not signal_during_stop:  # no stop: as found, for
        for signum, handler in handlers.items():                   # Jupyter's %run
            signal.signal(signum, handler)
        sys.setrecursionlimit(limit)
        if collecting:
            gc.enable()
    if status:  # not SystemExit(0), which IDLE and %run take as worth a word
        sys.exit(status)
