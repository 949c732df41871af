"""Activations with their derivatives expressed through the output where possible."""
from __future__ import annotations

import numpy as np


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """In place: sigmoid(x) = (1 + tanh(x / 2)) / 2, which never overflows."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - np.max(x, axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= np.sum(z, axis=-1, keepdims=True)
    return z


def log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - np.max(x, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def apply(name: str, pre: np.ndarray) -> np.ndarray:
    if name == "none" or name == "identity":
        return pre.copy()
    if name == "relu":
        return np.maximum(pre, 0)
    if name == "tanh":
        return np.tanh(pre)
    if name == "sigmoid":
        return sigmoid_(pre.copy())
    if name == "softmax":
        return softmax(pre)
    if name == "log_softmax":
        return log_softmax(pre)
    raise ValueError(name)


def backward(name: str, pre: np.ndarray, out: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """dL/dpre from dL/dout."""
    if name == "none" or name == "identity":
        return grad_out
    if name == "relu":
        return grad_out * (pre > 0)
    if name == "tanh":
        return grad_out * (1 - out * out)
    if name == "sigmoid":
        return grad_out * out * (1 - out)
    if name == "softmax":
        return out * (grad_out - np.sum(grad_out * out, axis=-1, keepdims=True))
    if name == "log_softmax":  # d/dz log softmax(z) = I - softmax(z): softmax(z) = exp(out)
        return grad_out - np.exp(out) * np.sum(grad_out, axis=-1, keepdims=True)
    raise ValueError(name)
