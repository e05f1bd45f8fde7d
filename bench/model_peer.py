"""numpy peer of the demo model's training (bench/model-bench.ts): the same
forward/backward and SGD steps in float32 with batched matrix products.
Usage: model_peer.py DIR K E H V BATCH LR -> prints JSON {seconds, lastLoss}."""
import json, sys, time
import numpy as np

d, K, E, H, V, B = sys.argv[1], *map(int, sys.argv[2:7])
lr = float(sys.argv[7])
ids = np.load(f"{d}/ids.npy").astype(np.int64)
offsets = np.load(f"{d}/offsets.npy").astype(np.int64)
order = np.load(f"{d}/order.npy").astype(np.int64)
p = np.load(f"{d}/params.npy").astype(np.float32)
o = 0
emb = p[o:o + V * E].reshape(V, E); o += V * E
W1 = p[o:o + K * E * H].reshape(K * E, H); o += K * E * H
b1 = p[o:o + H]; o += H
W2 = p[o:o + H * V].reshape(H, V); o += H * V
b2 = p[o:o + V]

def batch_positions(seqs):
    ctx, tgt = [], []
    for s in seqs:
        a, b = offsets[s], offsets[s + 1]
        seq = ids[a:b]
        padded = np.concatenate([np.zeros(K, np.int64), seq])
        n = b - a
        ctx.append(np.stack([padded[m:m + n] for m in range(K)], axis=1))
        tgt.append(seq)
    return np.concatenate(ctx), np.concatenate(tgt)

start = time.perf_counter()
loss = 0.0
for i in range(0, len(order), B):
    ctx, tgt = batch_positions(order[i:i + B])
    n = len(tgt)
    X = emb[ctx].reshape(n, K * E)
    Hh = np.tanh(X @ W1 + b1)
    Z = Hh @ W2 + b2
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    P /= P.sum(axis=1, keepdims=True)
    loss = float(-np.log(P[np.arange(n), tgt]).mean())
    P[np.arange(n), tgt] -= 1
    P /= n
    dW2 = Hh.T @ P; db2 = P.sum(0)
    G1 = (P @ W2.T) * (1 - Hh * Hh)
    dW1 = X.T @ G1; db1 = G1.sum(0)
    dX = (G1 @ W1.T).reshape(n, K, E)
    demb = np.zeros_like(emb)
    np.add.at(demb, ctx.reshape(-1), dX.reshape(-1, E))
    W2 -= lr * dW2; b2 -= lr * db2; W1 -= lr * dW1; b1 -= lr * db1; emb -= lr * demb
print(json.dumps({"seconds": time.perf_counter() - start, "lastLoss": loss}))
