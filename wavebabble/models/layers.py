"""Small shared layers of the wavebabble models.

- `TimingFeatures`: soft VAD [batch, frames, 2] -> [batch, frames, 4] = (a, b, a*b, (1-a)(1-b)).
- `PolyphaseConv1DTranspose`: drop-in for keras Conv1DTranspose(padding="same") with the same kernel
  shape [kernel, out_ch, in_ch] and the same output, computed as one stride-1 Conv1D with
  stride*out_ch filters followed by a reshape (sub-pixel / polyphase form). It is the generator's
  XLA lever (see eval/bench_models.py): without XLA it is ~10% slower than Conv1DTranspose (28/25
  more MACs), but under XLA on CPU it keeps its speed while Conv1DTranspose becomes ~40x slower.
- `CausalDCBlock`: x [batch, time, ch] -> x minus its causal moving average over `width` samples (a DC and
  sub-audio notch that reads no sample ahead).
- `HeldConv1DTranspose`: keras Conv1DTranspose followed by a causal moving average over `strides` output samples
  (nearest-neighbour upsampling then a convolution): no steady per-phase pattern (checkerboard) survives it.
- `CausalHighPass`: x [batch, time, ch] -> each channel through a Butterworth high-pass, as a causal FIR of its
  impulse response.
- `GroupedConv1D`: keras Conv1D(groups=g) weights and output, computed as g ordinary convolutions
  (TF's CPU backward of grouped convs is ~60x slower than ungrouped).
"""
from __future__ import annotations

import math

import numpy as np

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="wavebabble")
class TimingFeatures(keras.layers.Layer):
    """[batch, frames, 2] VAD probabilities (a, b) -> [batch, frames, 4]: a, b, overlap a*b, silence (1-a)(1-b)."""

    def call(self, vad):
        a = vad[..., 0:1]
        b = vad[..., 1:2]
        return tf.concat([a, b, a * b, (1.0 - a) * (1.0 - b)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 4)


@keras.saving.register_keras_serializable(package="wavebabble")
class PolyphaseConv1DTranspose(keras.layers.Layer):
    """Conv1DTranspose(filters, kernel_size, strides, padding="same") in polyphase form.

    x [batch, time, in_ch] -> [batch, time * strides, filters]. Weights: `kernel` [kernel_size, filters,
    in_ch] (exactly keras Conv1DTranspose's layout, so parameter counts and checkpoints match) and `bias`
    [filters].

    Derivation: TF's "same" transposed conv is the gradient of a "same" strided conv, whose left pad is
    p = max(kernel - strides, 0) // 2, so y[o] = sum_{i, j: i*s + j - p = o} x[i] w[j]. Writing o = q*s + r
    and i = q + m gives y[q*s + r] = sum_m x[q + m] w[r + p - m*s]: for each phase r a stride-1
    correlation over input offsets m in [m_min, m_max]; stacking the s phases as output channels makes it
    one Conv1D with (m_max - m_min + 1) taps and s*filters outputs, then a reshape interleaves the phases.
    """

    def __init__(self, filters: int, kernel_size: int, strides: int, activation=None,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.activation = keras.activations.get(activation)
        s, k = self.strides, self.kernel_size
        # TF "SAME" conv-transpose == gradient of a SAME strided conv: total pad = max(k - s, 0),
        # left pad of the forward conv = total // 2.
        pad_total = max(k - s, 0)
        self._pad = pad_total // 2
        self._m_min = -((k - 1 - self._pad) // s)
        self._m_max = (s - 1 + self._pad) // s
        self._taps = self._m_max - self._m_min + 1
        self._frozen_kernel = None

    def build(self, input_shape):
        in_ch = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, self.filters, in_ch),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        # Static gather table: tap t is input offset m = m_min + t; for phase r it uses kernel index
        # j = r + p - m*s, or zeros when j falls outside [0, kernel).
        self._table = [[r + self._pad - (self._m_min + t) * self.strides for r in range(self.strides)]
                       for t in range(self._taps)]

    def freeze_kernel(self) -> None:
        """Compute the polyphase kernel from `kernel` once and use that copy from now on (serving: saves the
        gather on every call). Later changes to `kernel` are not seen: for a model that is no longer trained."""
        self._frozen_kernel = tf.Variable(self.poly_kernel(), trainable=False, name=f"{self.name}_serving_kernel")

    def poly_kernel(self):
        """[taps, in_ch, strides*filters] stride-1 kernel built from `kernel` (the frozen copy after
        freeze_kernel())."""
        if self._frozen_kernel is not None:
            return self._frozen_kernel
        k, s = self.kernel_size, self.strides
        w = tf.transpose(self.kernel, [0, 2, 1])                 # [k, in, out]
        zero = tf.zeros_like(w[0])
        rows = []
        for t in range(self._taps):
            phases = [w[j] if 0 <= j < k else zero for j in self._table[t]]
            rows.append(tf.concat(phases, axis=-1))             # [in, s*out]
        return tf.stack(rows, axis=0)

    def call(self, x):
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        # tf.nn.conv1d correlates: out[q] = sum_t xp[q + t] K[t] with xp[q + t] = x[q + m_min + t].
        left, right = -self._m_min, self._m_max
        xp = tf.pad(x, [[0, 0], [left, right], [0, 0]])
        y = tf.nn.conv1d(xp, self.poly_kernel(), stride=1, padding="VALID")  # [B, length, s*out]
        y = tf.reshape(y, [batch, length * self.strides, self.filters]) + self.bias
        if x.shape[1] is not None:
            y.set_shape([x.shape[0], x.shape[1] * self.strides, self.filters])
        return self.activation(y) if self.activation is not None else y

    def compute_output_shape(self, input_shape):
        t = None if input_shape[1] is None else input_shape[1] * self.strides
        return (input_shape[0], t, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


def polyphase_taps(kernel_size: int, strides: int) -> int:
    """Stride-1 taps per phase of PolyphaseConv1DTranspose (for FLOP counts)."""
    return PolyphaseConv1DTranspose(1, kernel_size, strides)._taps


@keras.saving.register_keras_serializable(package="wavebabble")
class CausalDCBlock(keras.layers.Layer):
    """x [batch, time, ch] -> x[t] - mean(x[t - width + 1 .. t]) (zeros before the start): removes DC and slow
    drifts (its response is 0 at DC and 1 at multiples of sample_rate / width) without reading ahead."""

    def __init__(self, width: int, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)

    def get_config(self):
        return {**super().get_config(), "width": self.width}

    def call(self, x):
        padded = tf.pad(x, [[0, 0], [self.width - 1, 0], [0, 0]])
        return x - tf.nn.avg_pool1d(padded, self.width, 1, "VALID")

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="wavebabble")
class CausalHighPass(keras.layers.Layer):
    """x [batch, time, ch] -> the same, each channel through a Butterworth high-pass (`order`, -3 dB at
    `cutoff_hz`) as a causal FIR of its first `taps` impulse-response samples (zeros before the start): the IIR
    filter's response, with no look-ahead. Its kernel is a constant, not a weight (checkpoints do not hold it)."""

    def __init__(self, cutoff_hz: float, sample_rate: int, order: int, taps: int, **kwargs):
        super().__init__(**kwargs)
        self.cutoff_hz, self.sample_rate = float(cutoff_hz), int(sample_rate)
        self.order, self.taps = int(order), int(taps)
        self._kernel = high_pass_impulse_response(self.cutoff_hz, self.sample_rate, self.order, self.taps)[::-1]

    def get_config(self):
        return {**super().get_config(), "cutoff_hz": self.cutoff_hz, "sample_rate": self.sample_rate,
                "order": self.order, "taps": self.taps}

    def call(self, x):
        shape = tf.shape(x)
        flat = tf.reshape(tf.transpose(x, [0, 2, 1]), [-1, shape[1], 1])       # [batch * ch, time, 1]
        padded = tf.pad(flat, [[0, 0], [self.taps - 1, 0], [0, 0]])
        kernel = tf.constant(self._kernel.reshape(self.taps, 1, 1), dtype=x.dtype)
        y = tf.nn.conv1d(padded, kernel, 1, "VALID")
        return tf.transpose(tf.reshape(y, [shape[0], shape[2], shape[1]]), [0, 2, 1])

    def compute_output_shape(self, input_shape):
        return input_shape


def high_pass_impulse_response(cutoff_hz: float, sample_rate: int, order: int, taps: int) -> np.ndarray:
    """[taps] float32: the first `taps` samples of a Butterworth high-pass's impulse response."""
    from scipy import signal

    sos = signal.butter(order, cutoff_hz, "highpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, np.eye(1, taps)[0]).astype(np.float32)


@keras.saving.register_keras_serializable(package="wavebabble")
class GroupedConv1D(keras.layers.Layer):
    """keras Conv1D(filters, kernel_size, strides, padding="same", groups=groups), computed group by group.

    x [batch, time, in_ch] -> [batch, ceil(time / strides), filters]. Same weights as keras Conv1D with
    groups (`kernel` [kernel_size, in_ch // groups, filters], `bias` [filters]) and the same output.
    Why: TF's CPU gradient of a grouped convolution is ~60x slower than an ungrouped one (measured
    1 vs 65 GFLOP/s, see eval/bench_models.py notes), so the multi-scale D splits the channels and runs
    `groups` ordinary convolutions, whose forward and backward use oneDNN.
    """

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, groups: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides, self.groups = int(filters), int(kernel_size), int(strides), int(groups)
        if self.filters % self.groups:
            raise ValueError(f"GroupedConv1D: groups={groups} must divide filters={filters}")

    def build(self, input_shape):
        in_ch = int(input_shape[-1])
        if in_ch % self.groups:
            raise ValueError(f"GroupedConv1D: groups={self.groups} must divide input channels={in_ch}")
        self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, in_ch // self.groups, self.filters),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x):
        xs = tf.split(x, self.groups, axis=-1)
        ks = tf.split(self.kernel, self.groups, axis=-1)
        ys = [tf.nn.conv1d(xi, ki, stride=self.strides, padding="SAME") for xi, ki in zip(xs, ks)]
        return tf.concat(ys, axis=-1) + self.bias

    def compute_output_shape(self, input_shape):
        t = None if input_shape[1] is None else math.ceil(input_shape[1] / self.strides)
        return (input_shape[0], t, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "groups": self.groups}


@keras.saving.register_keras_serializable(package="wavebabble")
class HeldConv1DTranspose(keras.layers.Conv1DTranspose):
    """keras Conv1DTranspose (same weights, same arguments) whose output [batch, time * strides, filters] then
    passes a causal moving average over `strides` samples (zeros before the start). The pair is nearest-neighbour
    upsampling followed by a convolution: the average's nulls at multiples of output_rate / strides remove the
    steady pattern a transposed convolution's phases leave there (its checkerboard, heard as lines at those
    frequencies), whatever the weights learn. Reads no sample ahead beyond the transposed convolution's own."""

    def call(self, inputs):
        y = super().call(inputs)
        width = self.strides[0]
        return tf.nn.avg_pool1d(tf.pad(y, [[0, 0], [width - 1, 0], [0, 0]]), width, 1, "VALID")


@keras.saving.register_keras_serializable(package="wavebabble")
class LinearUpsample1D(keras.layers.Layer):
    """[batch, frames, ch] -> [batch, frames * factor, ch]: linear interpolation between frame centres (output
    sample t sits at frame position (t + 0.5) / factor - 0.5; held flat before the first and after the last
    centre). tf.image.resize (bilinear, half-pixel centres) on a [batch, frames, 1, ch] image."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, x):
        length = tf.shape(x)[1] * self.factor
        y = tf.image.resize(x[:, :, None, :], tf.stack([length, 1]), method="bilinear")[:, :, 0, :]
        if x.shape[1] is not None:
            y.set_shape([x.shape[0], x.shape[1] * self.factor, x.shape[2]])
        return tf.cast(y, x.dtype)

    def compute_output_shape(self, input_shape):
        t = None if input_shape[1] is None else input_shape[1] * self.factor
        return (input_shape[0], t, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="wavebabble")
class ICNR(keras.initializers.Initializer):
    """Conv1DTranspose kernel [kernel, out, in] whose `stride` output phases start identical (Aitken et al. 2017):
    a He-normal sub-kernel [kernel // stride, out, in] repeated over the phases, i.e. nearest-neighbour
    upsampling followed by a convolution. Needs kernel % stride == 0."""

    def __init__(self, stride: int, seed=None):
        self.stride = int(stride)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        k, out_ch, in_ch = shape
        sub = keras.initializers.HeNormal(seed=self.seed)((k // self.stride, out_ch, in_ch), dtype=dtype)
        return keras.ops.repeat(sub, self.stride, axis=0)

    def get_config(self):
        return {"stride": self.stride, "seed": self.seed}
