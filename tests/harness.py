"""What the tests share: where things are, how to run the script, and a
recorder that trains and samples as main() does while keeping every number."""
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'expected')
SCRIPT = os.path.join(ROOT, 'microgpt.py')

# The slow checks (whole default runs, minutes each) run only when this is set.
SLOW = os.environ.get('MICROGPT_SLOW') == '1'
SLOW_REASON = 'a full run takes minutes: set MICROGPT_SLOW=1 to include it'


def expected_bytes(name):
    """A reference output copied from the reference program, as bytes."""
    with open(os.path.join(EXPECTED, name), 'rb') as f:
        return f.read()


def expected_lines(name):
    """A reference file of one repr() per line (losses, gradients)."""
    return expected_bytes(name).decode('ascii').split()


def run_script(*args, script=SCRIPT, cwd=None, env=None, timeout=600):
    """Run microgpt.py (or another script) with options; stdout and stderr as bytes."""
    return subprocess.run([sys.executable, script, *args], cwd=cwd, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL, capture_output=True)


def record_run(model, docs, seed=42, n_layer=1, n_embd=16, block_size=16, n_head=4,
               num_steps=20, learning_rate=0.01, temperature=0.5, num_samples=20):
    """Train and sample with the functions of `model` (microgpt or the plain
    oracle) in the order main() calls them, and keep what main() only prints
    rounded: the loss and every gradient of each step, the final weights and
    the samples as token ids."""
    docs = list(docs)
    random.seed(seed)
    random.shuffle(docs)
    chars = sorted(set(''.join(docs)))
    stoi = {ch: i for i, ch in enumerate(chars)}
    BOS = len(chars)
    state_dict = model.init_state_dict(BOS + 1, n_layer, n_embd, block_size)
    params = [p for mat in state_dict.values() for row in mat for p in row]
    m, v = [0.0] * len(params), [0.0] * len(params)
    losses, grads = [], []
    for step in range(num_steps):
        doc = docs[step % len(docs)]
        tokens = [BOS] + [stoi[ch] for ch in doc] + [BOS]
        loss = model.doc_loss(tokens, state_dict, n_layer, n_head, block_size)
        loss.backward()
        losses.append(loss.data)
        grads.append([p.grad for p in params])
        model.adam_step(params, m, v, step, num_steps, learning_rate)
    samples = [model.sample(state_dict, n_layer, n_head, block_size, BOS, temperature)
               for _ in range(num_samples)]
    return {'losses': losses, 'grads': grads, 'weights': [p.data for p in params],
            'samples': samples}


def reprs(numbers):
    """Numbers as repr() strings: equal strings mean equal bits (and int 0 stays '0')."""
    return [repr(x) for x in numbers]
