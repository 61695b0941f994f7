"""Classifier two-sample test: can a small classifier tell generated from real log-mel patches?

    result = classifier_two_sample_test(feats_a, vads_a, feats_b, vads_b, rng)
    result["accuracy"]   # held-out accuracy: 0.5 = indistinguishable, 1.0 = always told apart

Inputs per set: log-mel ``[frames, C, n_mels]`` (wavebabble.quality.logmel) and hard VAD ``[frames, C]`` of each
clip. A **patch** is ``PATCH_FRAMES`` consecutive frames of one channel (non-overlapping, ``[PATCH_FRAMES,
n_mels]``, 160 ms) in which that channel is active in at least ``MIN_ACTIVE`` of the frames: the test judges the
sound of speech, not silence (silence is alike in both sets and would pull the accuracy toward 0.5) nor
turn-taking (the timing measures do that). Clips, not patches, are split into training and held-out parts
(``HELD_OUT``), so neighbouring patches of one clip never sit on both sides. Both classes are subsampled to the
same size per part, so chance is exactly 0.5.

The classifier is a one-hidden-layer MLP in numpy (``HIDDEN`` ReLU units, logistic output, Adam, ``EPOCHS``
passes, inputs standardised with the training part's statistics): small enough to run in seconds on a CPU and
strong enough to separate tones from speech. Following Lopez-Paz & Oquab (2017), its held-out accuracy is the
test statistic; the report sets it beside the same test of real against real (two halves of the reference).
"""
from __future__ import annotations

import numpy as np

PATCH_FRAMES = 16          # 160 ms at 100 frames/s
MIN_ACTIVE = 0.5           # share of a patch's frames the channel must be active in
HELD_OUT = 0.3             # share of each set's clips held out for the accuracy
MAX_PATCHES = 4000         # per set (random subset beyond): bounds the time
HIDDEN = 64
EPOCHS = 30
BATCH = 64
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-4
ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-8
MIN_PATCHES = 8            # per set and part: fewer and there is nothing to test


def active_patches(feats: list, vads: list) -> tuple[np.ndarray, np.ndarray]:
    """All active patches of a set -> (float32 ``[n, PATCH_FRAMES * n_mels]``, clip index ``[n]``)."""
    rows, owner = [], []
    for i, (f, v) in enumerate(zip(feats, vads)):
        frames = min(f.shape[0], v.shape[0])
        for c in range(f.shape[1]):
            for start in range(0, frames - PATCH_FRAMES + 1, PATCH_FRAMES):
                if np.mean(v[start:start + PATCH_FRAMES, c]) >= MIN_ACTIVE:
                    rows.append(f[start:start + PATCH_FRAMES, c].reshape(-1))
                    owner.append(i)
    if not rows:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.asarray(rows, np.float32), np.asarray(owner, np.int64)


def _split(x: np.ndarray, owner: np.ndarray, num_clips: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(training patches, held-out patches) split by clip."""
    clips = rng.permutation(num_clips)
    held = np.isin(owner, clips[:max(1, int(round(HELD_OUT * num_clips)))])
    return x[~held], x[held]


def _balanced(a: np.ndarray, b: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (a = 0, b = 1) with both classes subsampled to the smaller one's size."""
    n = min(len(a), len(b))
    a = a[rng.choice(len(a), n, replace=False)]
    b = b[rng.choice(len(b), n, replace=False)]
    return np.concatenate([a, b]), np.concatenate([np.zeros(n), np.ones(n)]).astype(np.float32)


class MLP:
    """x ``[n, D]`` -> logit ``[n]``: Dense(HIDDEN, relu) -> Dense(1), trained with Adam on the logistic loss."""

    def __init__(self, dim: int, rng: np.random.Generator):
        self.params = [rng.normal(0, np.sqrt(2.0 / dim), (dim, HIDDEN)).astype(np.float32),
                       np.zeros(HIDDEN, np.float32),
                       rng.normal(0, np.sqrt(1.0 / HIDDEN), (HIDDEN, 1)).astype(np.float32),
                       np.zeros(1, np.float32)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def logits(self, x: np.ndarray) -> np.ndarray:
        w1, b1, w2, b2 = self.params
        return (np.maximum(x @ w1 + b1, 0.0) @ w2 + b2)[:, 0]

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        w1, b1, w2, b2 = self.params
        h_pre = x @ w1 + b1
        h = np.maximum(h_pre, 0.0)
        p = 1.0 / (1.0 + np.exp(-(h @ w2 + b2)[:, 0]))
        d_out = ((p - y) / len(y))[:, None]                       # d loss / d logit
        d_h = (d_out @ w2.T) * (h_pre > 0)
        grads = [x.T @ d_h + WEIGHT_DECAY * w1, d_h.sum(0), h.T @ d_out + WEIGHT_DECAY * w2, d_out.sum(0)]
        self.t += 1
        for k, g in enumerate(grads):
            self.m[k] = ADAM_B1 * self.m[k] + (1 - ADAM_B1) * g
            self.v[k] = ADAM_B2 * self.v[k] + (1 - ADAM_B2) * g * g
            m_hat = self.m[k] / (1 - ADAM_B1 ** self.t)
            v_hat = self.v[k] / (1 - ADAM_B2 ** self.t)
            self.params[k] = self.params[k] - LEARNING_RATE * m_hat / (np.sqrt(v_hat) + ADAM_EPS)

    def fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        for _ in range(EPOCHS):
            order = rng.permutation(len(x))
            for i in range(0, len(x), BATCH):
                idx = order[i:i + BATCH]
                self.step(x[idx], y[idx])


def classifier_two_sample_test(feats_a: list, vads_a: list, feats_b: list, vads_b: list,
                               rng: np.random.Generator) -> dict:
    """Held-out accuracy of an MLP telling set a's active log-mel patches from set b's (module docstring).

    Returns ``{"accuracy": float | None, "train_patches": n, "test_patches": n}``; accuracy is None (with a
    ``"reason"``) when either set has fewer than MIN_PATCHES active patches on either side of the split.
    """
    xs = []
    for feats, vads in ((feats_a, vads_a), (feats_b, vads_b)):
        x, owner = active_patches(feats, vads)
        if len(x) > MAX_PATCHES:
            keep = np.sort(rng.choice(len(x), MAX_PATCHES, replace=False))
            x, owner = x[keep], owner[keep]
        xs.append(_split(x, owner, len(feats), rng))
    (a_train, a_test), (b_train, b_test) = xs
    if min(len(a_train), len(a_test), len(b_train), len(b_test)) < MIN_PATCHES:
        return {"accuracy": None, "train_patches": 0, "test_patches": 0,
                "reason": f"too few active {PATCH_FRAMES}-frame patches (need {MIN_PATCHES} per set and part)"}
    x_train, y_train = _balanced(a_train, b_train, rng)
    x_test, y_test = _balanced(a_test, b_test, rng)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-3
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    model = MLP(x_train.shape[1], rng)
    model.fit(x_train, y_train, rng)
    accuracy = float(np.mean((model.logits(x_test) > 0) == (y_test > 0.5)))
    return {"accuracy": accuracy, "train_patches": int(len(x_train)), "test_patches": int(len(x_test))}
