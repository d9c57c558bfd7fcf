"""
The plain oracle: microgpt computed the slow, obvious way.

Every operation makes one node with at most two children, sums are chains of
two-input additions, and backward() sorts the graph with the recursive
depth-first search of the reference program. Nothing here is tuned for speed:
it exists so that the fast microgpt.py can be checked against it on settings
and datasets for which no stored reference output exists.

It offers the same functions as the lecture in microgpt.py, with the same
signatures (build_tokenizer, encode, decode, init_state_dict, parameters,
doc_loss, init_adam, adam_step, sample, each taking the settings
as `config`), and the same command line, so the differential tests and the
benchmark can drive either one.
"""
import math
import os
import random
import sys
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import microgpt  # noqa: E402  (only for its command line and its dataset reader)


def build_tokenizer(docs):
    chars = sorted(set(''.join(docs)))
    return SimpleNamespace(chars=chars, BOS=len(chars), vocab_size=len(chars) + 1)


def encode(doc, tokenizer):
    BOS = len(tokenizer.chars)
    return [BOS] + [tokenizer.chars.index(ch) for ch in doc] + [BOS]


def decode(ids, tokenizer):
    return ''.join(tokenizer.chars[i] for i in ids)


class Value:
    __slots__ = ('data', 'grad', '_children', '_local_grads')

    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k):  # math.pow: PyPy computes x ** 2 as x * x, which rounds otherwise
        return Value(math.pow(self.data, k), (self,), (k * math.pow(self.data, k - 1),))

    def log(self):
        return Value(math.log(self.data), (self,), (1 / self.data,))

    def exp(self):
        return Value(math.exp(self.data), (self,), (math.exp(self.data),))

    def relu(self):
        return Value(max(0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self): return self * -1
    def __radd__(self, other): return self + other
    def __sub__(self, other): return self + (-other)
    def __rsub__(self, other): return other + (-self)
    def __rmul__(self, other): return self * other
    def __truediv__(self, other): return self * other ** -1
    def __rtruediv__(self, other): return other * self ** -1

    def backward(self):
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)

        # The recursive search goes one call deeper for every link of the
        # longest chain in the graph; deep models need far more than Python's
        # default of 1000 calls. The limit is restored for the rest of the process.
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(1_000_000)
        try:
            build_topo(self)
        finally:
            sys.setrecursionlimit(limit)
        self.grad = 1
        for v in reversed(topo):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad


def matrix(nout, nin, std=0.08):
    return [[Value(random.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]


def init_state_dict(vocab_size, config):
    n_embd = config.n_embd
    state_dict = {'wte': matrix(vocab_size, n_embd),
                  'wpe': matrix(config.block_size, n_embd),
                  'lm_head': matrix(vocab_size, n_embd)}
    for i in range(config.n_layer):
        state_dict[f'layer{i}.attn_wq'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wk'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wv'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.attn_wo'] = matrix(n_embd, n_embd)
        state_dict[f'layer{i}.mlp_fc1'] = matrix(4 * n_embd, n_embd)
        state_dict[f'layer{i}.mlp_fc2'] = matrix(n_embd, 4 * n_embd)
    return state_dict


def parameters(state_dict):
    return [p for mat in state_dict.values() for row in mat for p in row]


def linear(x, w):
    return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]


def softmax(logits):
    max_val = max(val.data for val in logits)
    exps = [(val - max_val).exp() for val in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x):
    ms = sum(xi * xi for xi in x) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def kv_cache(config):
    return [[] for _ in range(config.n_layer)], [[] for _ in range(config.n_layer)]


def gpt(token_id, pos_id, keys, values, state_dict, config):
    n_head = config.n_head
    tok_emb = state_dict['wte'][token_id]
    pos_emb = state_dict['wpe'][pos_id]
    x = [t + p for t, p in zip(tok_emb, pos_emb)]
    x = rmsnorm(x)
    head_dim = len(x) // n_head
    for li in range(config.n_layer):
        x_residual = x
        x = rmsnorm(x)
        q = linear(x, state_dict[f'layer{li}.attn_wq'])
        k = linear(x, state_dict[f'layer{li}.attn_wk'])
        v = linear(x, state_dict[f'layer{li}.attn_wv'])
        keys[li].append(k)
        values[li].append(v)
        x_attn = []
        for h in range(n_head):
            hs = h * head_dim
            q_h = q[hs:hs + head_dim]
            k_h = [ki[hs:hs + head_dim] for ki in keys[li]]
            v_h = [vi[hs:hs + head_dim] for vi in values[li]]
            attn_logits = [sum(q_h[j] * k_h[t][j] for j in range(head_dim)) / head_dim ** 0.5
                           for t in range(len(k_h))]
            attn_weights = softmax(attn_logits)
            head_out = [sum(attn_weights[t] * v_h[t][j] for t in range(len(v_h)))
                        for j in range(head_dim)]
            x_attn.extend(head_out)
        x = linear(x_attn, state_dict[f'layer{li}.attn_wo'])
        x = [a + b for a, b in zip(x, x_residual)]
        x_residual = x
        x = rmsnorm(x)
        x = linear(x, state_dict[f'layer{li}.mlp_fc1'])
        x = [xi.relu() for xi in x]
        x = linear(x, state_dict[f'layer{li}.mlp_fc2'])
        x = [a + b for a, b in zip(x, x_residual)]
    return linear(x, state_dict['lm_head'])


def doc_loss(tokens, state_dict, config):
    n = min(config.block_size, len(tokens) - 1)
    keys, values = kv_cache(config)
    losses = []
    for pos_id in range(n):
        token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
        logits = gpt(token_id, pos_id, keys, values, state_dict, config)
        probs = softmax(logits)
        losses.append(-probs[target_id].log())
    return (1 / n) * sum(losses)


def init_adam(params):
    return [0.0] * len(params), [0.0] * len(params)


def adam_step(params, m, v, step, config, beta1=0.85, beta2=0.99, eps_adam=1e-8):
    lr_t = config.learning_rate * (1 - step / config.num_steps)
    for i, p in enumerate(params):
        m[i] = beta1 * m[i] + (1 - beta1) * p.grad
        v[i] = beta2 * v[i] + (1 - beta2) * math.pow(p.grad, 2)
        m_hat = m[i] / (1 - math.pow(beta1, step + 1))
        v_hat = v[i] / (1 - math.pow(beta2, step + 1))
        p.data -= lr_t * m_hat / (v_hat ** 0.5 + eps_adam)
        p.grad = 0


def sample(state_dict, tokenizer, config):
    chars = tokenizer.chars
    BOS = len(chars)
    vocab_size = BOS + 1
    keys, values = kv_cache(config)
    token_id = BOS
    out = []
    for pos_id in range(config.block_size):
        logits = gpt(token_id, pos_id, keys, values, state_dict, config)
        probs = softmax([l / config.temperature for l in logits])
        if pos_id < len(config.prompt):
            # the prompt's token comes next; the probabilities go unused, no number is drawn
            token_id = chars.index(config.prompt[pos_id])
            out.append(token_id)
            continue
        token_id = random.choices(range(vocab_size), weights=[p.data for p in probs])[0]
        if token_id == BOS:
            break
        out.append(token_id)
    return decode(out, tokenizer)


def main(argv=None):
    config, _ = microgpt.configure(sys.argv[1:] if argv is None else argv)
    docs = microgpt.load_docs(config.input)
    random.seed(config.seed)
    random.shuffle(docs)
    print(f"num docs: {len(docs)}")
    tokenizer = build_tokenizer(docs)
    vocab_size = len(tokenizer.chars) + 1
    print(f"vocab size: {vocab_size}")
    state_dict = init_state_dict(vocab_size, config)
    params = parameters(state_dict)
    print(f"num params: {len(params)}")
    m, v = init_adam(params)
    for step in range(config.num_steps):
        tokens = encode(docs[step % len(docs)], tokenizer)
        loss = doc_loss(tokens, state_dict, config)
        loss.backward()
        adam_step(params, m, v, step, config)
        print(f"step {step+1:4d} / {config.num_steps:4d} | loss {loss.data:.4f}", end='\r')
    print("\n--- inference (new, hallucinated names) ---")
    for sample_idx in range(config.num_samples):
        print(f"sample {sample_idx+1:2d}: {sample(state_dict, tokenizer, config)}")


if __name__ == '__main__':
    main()
