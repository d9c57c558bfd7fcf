"""The changes that courses ask students to make to the lecture (README, "Change
it"): GELU, RoPE, LoRA and a mixture of experts, each written here as a student
would write it. Each is made on a scratch copy of the project by replacing whole
definitions of the lecture, found by their place in its syntax tree (a function,
the class Value, the settings), never by searching its text. Then the changed
model must train, save, load and pass --gradcheck, and the rest of the suite must
pass on it: only tests/test_faithful*.py compare with the reference program's
numbers, and they are meant to fail after such a change, and do.

Each change runs the quick suite once in a subprocess (a minute or two), so this
is a test of the slow pass."""
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from tests.harness import ROOT, SLOW, SLOW_REASON

# The modules left out of the suite run on a changed copy: those meant to fail after a
# change to the model, and this one, which would run itself again
LEFT_OUT = ('test_faithful', 'test_student_changes')

# Each change: (how, where, the student's code). `replace` puts the code in place of the
# lecture's definition of that name (a function, a class, `settings`); `add` puts it at
# the end of the class or, for `settings`, after its last setting.
GELU = [
    ('add', 'Value', '''
    def gelu(self):  # GELU, tanh's approximation: a smooth ReLU;  d/da by the product rule
        c = math.sqrt(2 / math.pi)
        t = math.tanh(c * (self.data + 0.044715 * math.pow(self.data, 3)))
        dt = (1 - t * t) * c * (1 + 3 * 0.044715 * math.pow(self.data, 2))
        return Value(0.5 * self.data * (1 + t), (self,), (0.5 * (1 + t) + 0.5 * self.data * dt,))
    '''),
    ('replace', 'mlp', '''
    def mlp(x, li, state_dict, config):  # each position on its own: wider, a smooth kink, narrower
        x = linear(x, state_dict[f'layer{li}.mlp_fc1'])
        x = [xi.gelu() for xi in x]
        return linear(x, state_dict[f'layer{li}.mlp_fc2'])
    '''),
]

ROPE = [
    ('replace', 'init_state_dict', '''
    def init_state_dict(vocab_size, config):  # no wpe: RoPE tells attention the positions
        d = config.n_embd
        state_dict = {'wte': matrix(vocab_size, d), 'lm_head': matrix(vocab_size, d)}
        shapes = {'attn_wq': (d, d), 'attn_wk': (d, d), 'attn_wv': (d, d), 'attn_wo': (d, d),
                  'mlp_fc1': (4 * d, d), 'mlp_fc2': (d, 4 * d)}
        for i in range(config.n_layer):
            state_dict.update({f'layer{i}.{name}': matrix(*size) for name, size in shapes.items()})
        return state_dict
    '''),
    ('replace', 'attention', '''
    def rope(x, pos_id, head_dim):  # each head's pairs of dimensions turned by pos_id * a frequency
        out = list(x)
        for h in range(0, len(x), head_dim):
            for i in range(0, head_dim - 1, 2):  # an odd last dimension stays as it is
                angle = pos_id / math.pow(10000, i / head_dim)
                c, s = math.cos(angle), math.sin(angle)
                a, b = x[h + i], x[h + i + 1]
                out[h + i], out[h + i + 1] = a * c - b * s, a * s + b * c
        return out

    def attention(x, pos_id, li, cache, state_dict, config):  # q and k rotated by the position
        head_dim = config.n_embd // config.n_head
        q = rope(linear(x, state_dict[f'layer{li}.attn_wq']), pos_id, head_dim)
        k = rope(linear(x, state_dict[f'layer{li}.attn_wk']), pos_id, head_dim)
        v = linear(x, state_dict[f'layer{li}.attn_wv'])
        keys, values = cache[li]
        keys.append(k)
        values.append(v)
        x_attn = []
        for start in range(0, config.n_embd, head_dim):  # a head: its slice of q, k and v
            q_h = q[start:start + head_dim]
            scores = [dot(q_h, kt[start:start + head_dim]) / head_dim ** 0.5 for kt in keys]
            attn_weights = softmax(scores)
            x_attn += [dot(attn_weights, [vt[start + j] for vt in values]) for j in range(head_dim)]
        return linear(x_attn, state_dict[f'layer{li}.attn_wo'])
    '''),
    ('replace', 'gpt', '''
    def gpt(token_id, pos_id, cache, state_dict, config):  # no position embedding: RoPE
        x = rmsnorm(state_dict['wte'][token_id])
        for li in range(config.n_layer):
            x_residual = x
            x = attention(rmsnorm(x), pos_id, li, cache, state_dict, config)
            x = [a + b for a, b in zip(x, x_residual)]
            x_residual = x
            x = mlp(rmsnorm(x), li, state_dict, config)
            x = [a + b for a, b in zip(x, x_residual)]
        return linear(x, state_dict['lm_head'])
    '''),
]

LORA = [
    ('add', 'settings', '''
        lora_rank=2,         # LoRA: the rank of the adapters beside attn_wq and attn_wv
    '''),
    ('replace', 'init_state_dict', '''
    def init_state_dict(vocab_size, config):
        n_embd, rank = config.n_embd, config.lora_rank
        state_dict = {name: matrix(rows, n_embd) for name, rows in
                      (('wte', vocab_size), ('wpe', config.block_size), ('lm_head', vocab_size))}
        for i in range(config.n_layer):
            layer = f'layer{i}.'
            for name in ('attn_wq', 'attn_wk', 'attn_wv', 'attn_wo'):
                state_dict[layer + name] = matrix(n_embd, n_embd)
            for name in ('attn_wq', 'attn_wv'):  # LoRA: W + B A, B zero at first so W x is kept
                state_dict[layer + name + '_lora_a'] = matrix(rank, n_embd)
                state_dict[layer + name + '_lora_b'] = matrix(n_embd, rank, std=0)
            state_dict[layer + 'mlp_fc1'] = matrix(4 * n_embd, n_embd)
            state_dict[layer + 'mlp_fc2'] = matrix(n_embd, 4 * n_embd)
        return state_dict
    '''),
    ('replace', 'parameters', '''
    def parameters(state_dict):  # only the adapters learn: the base stays frozen
        return [p for name, mat in state_dict.items() if '_lora_' in name for row in mat for p in row]
    '''),
    ('replace', 'attention', '''
    def lora_linear(x, name, state_dict):  # W x + B (A x)
        base = linear(x, state_dict[name])
        low_rank = linear(linear(x, state_dict[name + '_lora_a']), state_dict[name + '_lora_b'])
        return [a + b for a, b in zip(base, low_rank)]

    def attention(x, pos_id, li, cache, state_dict, config):
        q = lora_linear(x, f'layer{li}.attn_wq', state_dict)
        k = linear(x, state_dict[f'layer{li}.attn_wk'])
        v = lora_linear(x, f'layer{li}.attn_wv', state_dict)
        keys, values = cache[li]
        keys.append(k)
        values.append(v)
        head_dim = config.n_embd // config.n_head
        x_attn = []
        for h in range(config.n_head):
            hs = slice(h * head_dim, (h + 1) * head_dim)
            q_h, k_h, v_h = q[hs], [kt[hs] for kt in keys], [vt[hs] for vt in values]
            attn_weights = softmax([dot(q_h, kt) / head_dim ** 0.5 for kt in k_h])
            x_attn += [dot(attn_weights, [vt[j] for vt in v_h]) for j in range(head_dim)]
        return linear(x_attn, state_dict[f'layer{li}.attn_wo'])
    '''),
]

MIXTURE_OF_EXPERTS = [
    ('add', 'settings', '''
        n_expert=4,          # mixture of experts: how many MLPs each layer has
        top_k=2,             # and how many of them the router picks for each position
    '''),
    ('replace', 'init_state_dict', '''
    def init_state_dict(vocab_size, config):
        n_embd = config.n_embd
        state_dict = dict(wte=matrix(vocab_size, n_embd), wpe=matrix(config.block_size, n_embd),
                          lm_head=matrix(vocab_size, n_embd))
        for i in range(config.n_layer):
            for name in ('attn_wq', 'attn_wk', 'attn_wv', 'attn_wo'):
                state_dict[f'layer{i}.{name}'] = matrix(n_embd, n_embd)
            state_dict[f'layer{i}.router'] = matrix(config.n_expert, n_embd)  # a score per expert
            for e in range(config.n_expert):
                state_dict[f'layer{i}.expert{e}.mlp_fc1'] = matrix(4 * n_embd, n_embd)
                state_dict[f'layer{i}.expert{e}.mlp_fc2'] = matrix(n_embd, 4 * n_embd)
        return state_dict
    '''),
    ('replace', 'mlp', '''
    def mlp(x, li, state_dict, config):  # the top_k experts with the best scores, mixed by softmax
        scores = linear(x, state_dict[f'layer{li}.router'])
        chosen = sorted(range(config.n_expert), key=lambda e: -scores[e].data)[:config.top_k]
        gates = softmax([scores[e] for e in chosen])
        outs = []
        for e in chosen:
            h = linear(x, state_dict[f'layer{li}.expert{e}.mlp_fc1'])
            h = [hi.relu() for hi in h]
            outs.append(linear(h, state_dict[f'layer{li}.expert{e}.mlp_fc2']))
        return [total([g * out[j] for g, out in zip(gates, outs)]) for j in range(len(x))]
    '''),
]


def definition(tree, name):
    """The top-level node that defines `name`: its def, its class or its assignment."""
    found = [node for node in tree.body
             if getattr(node, 'name', None) == name
             or isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == name
                                                     for t in node.targets)]
    if len(found) != 1:
        raise LookupError(f'{len(found)} top-level definitions of {name!r}, not 1')
    return found[0]


def changed(source, edits):
    """The source with the student's edits made by line ranges of the syntax tree:
    `replace` puts code where a definition was (its decorators and all), `add` puts
    it after the class's last line or the settings' last keyword."""
    tree, lines = ast.parse(source), source.splitlines(keepends=True)
    spans = []  # (first line, last line, new lines), counted from 0, the last excluded
    for how, name, code in edits:
        node = definition(tree, name)
        code = textwrap.dedent(code).strip('\n') + '\n'
        if how == 'replace':
            first = min([node.lineno] + [d.lineno for d in getattr(node, 'decorator_list', [])])
            spans.append((first - 1, node.end_lineno, code))
        elif isinstance(node, ast.ClassDef):  # a method: as deep as the class's body
            spans.append((node.end_lineno, node.end_lineno,
                          '\n' + textwrap.indent(code, ' ' * node.body[-1].col_offset)))
        else:  # a setting: after the line of the last one's value, which ends in a comma
            last = node.value.keywords[-1].value.end_lineno
            spans.append((last, last, textwrap.indent(code, ' ' * 4)))
    for first, last, code in sorted(spans, key=lambda span: span[0], reverse=True):
        lines[first:last] = [code]
    result = ''.join(lines)
    ast.parse(result)  # the student's file still parses
    return result


# The suite on a copy, as `python -m unittest` discovers it there, without LEFT_OUT:
# the failures and errors of each test, by its id, as JSON on the last line of stdout
SUITE = '''\
import json, sys, unittest
def tests(suite):
    for test in suite:
        yield from tests(test) if isinstance(test, unittest.TestSuite) else [test]
found = unittest.defaultTestLoader.discover('.', top_level_dir='.')
kept = [t for t in tests(found) if not t.id().split('.')[1].startswith({left_out!r})]
result = unittest.TextTestRunner(stream=sys.stderr, verbosity=0).run(unittest.TestSuite(kept))
print(json.dumps({{'ran': result.testsRun,
                  'failed': {{t.id(): why for t, why in result.failures + result.errors}}}}))
'''


@unittest.skipUnless(SLOW, SLOW_REASON)
class StudentChanges(unittest.TestCase):
    """Each change on its own scratch copy of the project."""

    def copy_with(self, edits):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        with open(os.path.join(ROOT, 'microgpt.py'), encoding='utf-8') as f:
            source = f.read()
        with open(os.path.join(tmp.name, 'microgpt.py'), 'w', encoding='utf-8') as f:
            f.write(changed(source, edits))
        shutil.copy(os.path.join(ROOT, 'input.txt'), tmp.name)
        shutil.copytree(os.path.join(ROOT, 'tests'), os.path.join(tmp.name, 'tests'),
                        ignore=shutil.ignore_patterns('__pycache__'))
        return tmp.name

    def python(self, folder, *args, timeout=900):
        env = {k: v for k, v in os.environ.items() if k != 'MICROGPT_SLOW'}  # the quick pass
        return subprocess.run([sys.executable, *args], cwd=folder, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)

    def assertRan(self, result, what):
        self.assertEqual(result.returncode, 0,
                         f'{what}:\n{result.stderr.decode("utf-8", "replace")[-2000:]}')

    def assertTrains(self, folder):
        """It trains and saves, its file loads and samples, and --gradcheck agrees."""
        small = ['--input=input.txt', '--n_embd=8', '--n_head=2', '--block_size=8']
        self.assertRan(self.python(folder, 'microgpt.py', *small, '--num_steps=3',
                                   '--num_samples=1', '--save=x.json'), 'training and saving')
        self.assertRan(self.python(folder, 'microgpt.py', '--load=x.json', '--num_steps=0',
                                   '--num_samples=1'), 'loading and sampling')
        gradcheck = self.python(folder, 'microgpt.py', *small, '--gradcheck')
        self.assertRan(gradcheck, 'gradcheck:\n' + gradcheck.stdout.decode('utf-8', 'replace'))

    def assertChangesTheModel(self, folder):
        """The faithful tests see the change: the numbers are no longer the reference's."""
        result = self.python(folder, '-m', 'unittest',
                             'tests.test_faithful_reference.Short20.test_20_steps_match_every_loss')
        self.assertNotEqual(result.returncode, 0, 'the model is still the reference program')
        self.assertIn(b"the model's numbers differ from the reference program's", result.stderr)

    def assertSuitePasses(self, folder):
        result = self.python(folder, '-c', SUITE.format(left_out=LEFT_OUT))
        self.assertRan(result, 'the suite did not finish')
        outcome = json.loads(result.stdout.decode('utf-8').splitlines()[-1])
        self.assertGreater(outcome['ran'], 100)
        failed = outcome['failed']
        if failed:
            self.fail(f'{len(failed)} tests failed on the changed model:\n  '
                      + '\n  '.join(failed) + '\n\n' + '\n'.join(failed.values()))

    def check(self, edits):
        folder = self.copy_with(edits)
        self.assertTrains(folder)
        self.assertChangesTheModel(folder)
        self.assertSuitePasses(folder)

    def test_gelu_as_a_new_operation_of_value_in_the_mlp(self):
        self.check(GELU)

    def test_rope_in_attention_without_wpe(self):
        self.check(ROPE)

    def test_lora_adapters_beside_attn_wq_and_attn_wv_on_a_frozen_base(self):
        self.check(LORA)

    def test_a_mixture_of_4_experts_top_2_in_place_of_the_mlp(self):
        self.check(MIXTURE_OF_EXPERTS)


if __name__ == '__main__':
    unittest.main()
