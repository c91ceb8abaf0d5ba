"""The PyTorch training loop the PennyLane examples share: Adam (lr 0.05), 15 epochs, batch 32.

``train_and_save(model, X, y, data_file, members_file, weights_file)`` draws half the samples as
members (seed 0), trains *model* on them and writes the data, the member indices and the weights next
to this file -- what ``qaudit import pennylane`` then reads. State the same recipe to ``qaudit import``
(``--optimizer adam --lr 0.05 --epochs 15 --batch-size 32``).
"""

from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
LR, EPOCHS, BATCH = 0.05, 15, 32


def train_and_save(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, data_file: str, members_file: str,
                   weights_file: str) -> None:
    rng = np.random.default_rng(0)
    members = np.sort(rng.choice(len(X), size=len(X) // 2, replace=False))
    np.savez(HERE / data_file, X=X, y=y)
    np.savetxt(HERE / members_file, members, fmt="%d")
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    Xt, yt = torch.tensor(X[members], dtype=torch.float32), torch.tensor(y[members])
    for epoch in range(EPOCHS):
        for batch in torch.randperm(len(Xt)).split(BATCH):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xt[batch]), yt[batch])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}")
    torch.save(model.state_dict(), HERE / weights_file)
    with torch.no_grad():
        accuracy = (model(torch.tensor(X, dtype=torch.float32)).argmax(1).numpy() == y).mean()
    print(f"accuracy on all {len(X)} samples: {accuracy:.3f}; wrote {data_file}, {members_file}, {weights_file}")
