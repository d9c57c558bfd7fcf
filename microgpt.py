"""
microgpt: a GPT trained on a list of names, in one file of pure Python.

The first part is the whole algorithm, top to bottom: dataset, tokenizer, a
scalar autograd engine (Value), parameters, the GPT with a KV cache, training
with Adam, sampling. The second part is the program around it: the command
line, the dataset download, and one clear line for each failure.
Left out on purpose, as each would bury the idea: tensors and batches,
biases, LayerNorm (RMSNorm does the job with less), GELU, dropout, weight tying.

It computes the very floating-point numbers of the reference program it
retells, bit for bit; a line written some way only for speed or for those
bits says so.  Run it: python3 microgpt.py   (--help lists every option)
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

# Sums and dot products as one node with many children, for speed. The reference
# chains two-input nodes (0 + a0, then + a1, ...); one node adds the same numbers
# in the same order, hands each child the same gradient (the chain passes it on
# times 1, exactly), and records the children in the chain's order, so every bit
# stays the same. A left-to-right reduce, since sum() of floats compensates its
# rounding from Python 3.12 on.

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
    """The next-token scores (logits) after token_id at position pos_id; keys
    and values hold one list per layer, the cache of the earlier positions."""
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

def sample(state_dict, n_layer, n_head, block_size, BOS, temperature):
    """A new document, as a list of token ids."""
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    token_id, out = BOS, []
    for pos_id in range(block_size):
        logits = gpt(token_id, pos_id, keys, values, state_dict, n_head)
        # temperature: below 1 sharpens the distribution, above 1 flattens it
        probs = softmax([l / temperature for l in logits])
        token_id = random.choices(range(BOS + 1), weights=[p.data for p in probs])[0]
        if token_id == BOS:  # the model ended the document
            break
        out.append(token_id)
    return out

# =============================================================================
# The program: the command line, the dataset download, and every failure
# turned into one line on stderr. Nothing above this line depends on it.

import argparse
import gc
import os
import sys

DEFAULT_INPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'input.txt')
NAMES_URL = 'https://raw.githubusercontent.com/karpathy/makemore/988aa59/names.txt'
NAMES_SHA256 = '0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d'


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Train a tiny GPT on a text file, one document per line, then sample from it.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.error = lambda message: fail(f'{message}; see --help')  # one line, not a usage dump
    data = parser.add_argument_group('data')
    data.add_argument('--input', default=DEFAULT_INPUT, metavar='FILE',
                      help='UTF-8 text file, one document per line; '
                           'the default, the names list, is downloaded if missing')
    data.add_argument('--seed', type=whole_number(0), default=42, metavar='N',
                      help='seeds the shuffle, the initial weights and the sampling')
    model = parser.add_argument_group('model')
    model.add_argument('--n_layer', type=whole_number(1), default=1, metavar='N',
                       help='transformer blocks, one after the other')
    model.add_argument('--n_embd', type=whole_number(1), default=16, metavar='N',
                       help="width of every token's vector")
    model.add_argument('--block_size', type=whole_number(1), default=16, metavar='N',
                       help='longest context in tokens; longer documents are cut')
    model.add_argument('--n_head', type=whole_number(1), default=4, metavar='N',
                       help='attention heads; each looks at n_embd // n_head dimensions')
    train = parser.add_argument_group('training')
    train.add_argument('--num_steps', type=whole_number(0), default=1000, metavar='N',
                       help='training steps, one document each; 0 samples the untrained model')
    train.add_argument('--learning_rate', type=positive_number, default=0.01, metavar='X',
                       help="Adam's step size at the start; it falls linearly to 0")
    sampling = parser.add_argument_group('sampling')
    sampling.add_argument('--temperature', type=positive_number, default=0.5, metavar='X',
                          help='below 1 sharpens the distribution, above 1 flattens it')
    sampling.add_argument('--num_samples', type=whole_number(0), default=20, metavar='N',
                          help='how many new documents to invent after training')
    args = parser.parse_args(argv)
    if args.n_embd % args.n_head:
        fail(f'--n_embd={args.n_embd} must be divisible by --n_head={args.n_head}, '
             f'so that every head gets the same number of dimensions')
    return args


def whole_number(least):
    """An argparse type: an integer of at least `least`."""
    def parse(text):
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None
        if number < least:
            raise argparse.ArgumentTypeError(f'must be at least {least}, got {number}')
        return number
    return parse


def positive_number(text):
    """An argparse type: a finite number above 0."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not (0 < number < math.inf):
        raise argparse.ArgumentTypeError(f'must be a number above 0, got {text}')
    return number


def fail(message):
    """Stop with one line on stderr and a non-zero exit: bad input is not a crash."""
    print(f'microgpt.py: error: {message}', file=sys.stderr)
    sys.exit(2)


def read_docs(path):
    """load_docs(path), with each way a file can be unusable said in one line."""
    hint = 'pass --input=FILE with a text file, one document per line'
    try:
        docs = load_docs(path)
    except FileNotFoundError:
        fail(f'{path} does not exist; {hint}')
    except IsADirectoryError:
        fail(f'{path} is a directory; {hint}')
    except UnicodeDecodeError as e:
        fail(f'{path} is not UTF-8 text ({e.reason}); save it with the UTF-8 encoding')
    except OSError as e:
        fail(f'cannot read {path}: {e.strerror}')
    if not docs:
        fail(f'{path} has no documents, every line is blank; put one document on each line')
    return docs


def download_names(path):
    """Fetch the names list into path. It is written to a temporary file that
    is renamed only once complete, so no half-written input is ever left."""
    # imported here: only a run without its dataset needs them, and they would
    # add a few megabytes to every other run
    import hashlib, http.client, tempfile, urllib.request
    print(f'microgpt.py: {path} is missing; downloading the names list from {NAMES_URL}',
          file=sys.stderr)
    try:
        with urllib.request.urlopen(NAMES_URL, timeout=30) as response:
            content = response.read()
    except (OSError, http.client.HTTPException) as e:
        fail(f'could not download {NAMES_URL} ({e}); '
             f'put a text file at {path} or pass --input=FILE')
    if hashlib.sha256(content).hexdigest() != NAMES_SHA256:
        fail(f'{NAMES_URL} sent something other than the names list; put a text file at {path} '
             f'or pass --input=FILE')
    try:
        fd, partial = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.part')
    except OSError as e:
        fail(f'cannot write beside {path} ({e.strerror}); pass --input=FILE instead')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(content)
        os.chmod(partial, 0o644)  # mkstemp makes it private; a dataset is not a secret
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):  # anything went wrong before the rename
            os.remove(partial)


def main(argv=None):
    """Read the documents, build the model, train it and sample from it."""
    args = parse_args(argv)
    if args.input == DEFAULT_INPUT and not os.path.exists(DEFAULT_INPUT):
        download_names(DEFAULT_INPUT)
    docs = read_docs(args.input)
    random.seed(args.seed)
    random.shuffle(docs)
    print(f"num docs: {len(docs)}")

    chars = build_vocab(docs)
    stoi = {ch: i for i, ch in enumerate(chars)}
    BOS = len(chars)
    print(f"vocab size: {len(chars) + 1}")

    state_dict = init_state_dict(len(chars) + 1, args.n_layer, args.n_embd, args.block_size)
    params = parameters(state_dict)
    print(f"num params: {len(params)}")

    m = [0.0] * len(params)  # Adam's running mean of each gradient
    v = [0.0] * len(params)  # ... and of each squared gradient
    for step, loss in train(docs, stoi, BOS, state_dict, m, v, range(args.num_steps),
                            args.num_steps, args.learning_rate,
                            args.n_layer, args.n_head, args.block_size):
        print(f"step {step+1:4d} / {args.num_steps:4d} | loss {loss:.4f}", end='\r')

    print("\n--- inference (new, hallucinated names) ---")
    for sample_idx in range(args.num_samples):
        ids = sample(state_dict, args.n_layer, args.n_head, args.block_size, BOS, args.temperature)
        print(f"sample {sample_idx+1:2d}: {''.join(chars[i] for i in ids)}")


if __name__ == '__main__':
    # The graph has no reference cycles, so CPython's reference counting alone
    # frees each step's nodes, and its cycle collector would only scan them again
    # and again: pausing it saves about a tenth of the time. PyPy frees nothing
    # without its collector, so there it stays on.
    if sys.implementation.name == 'cpython':
        gc.disable()
    sys.stdout.reconfigure(encoding='utf-8')  # a dataset in any script prints on any platform
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C: stop at once; the progress line shows the step reached
        print()
        print('microgpt.py: interrupted', file=sys.stderr)
        sys.exit(130)
    except (ArithmeticError, ValueError) as e:  # log(0), exp overflow, weights gone to nan
        fail(f'the arithmetic broke down ({e}): training diverged or a setting is too extreme; '
             f'try a smaller --learning_rate or a --temperature nearer 1')
    except BrokenPipeError:  # whoever read our output stopped early, as `| head` does
        # what is still buffered goes nowhere, instead of failing again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
