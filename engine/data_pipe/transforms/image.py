"""Image augmentations in torch alone (flip, pad-and-crop, noise), added to the training part."""

from __future__ import annotations

import numpy as np

from engine.data_pipe.dag import TransformEnv
from engine.data_pipe.frame import Data, DataError


def augment(inputs: list[Data], params, env: TransformEnv) -> Data:
    """Train gets `copies` augmented versions of each image beside the originals; val and test stay as they are."""
    import torch
    import torch.nn.functional as F

    data = inputs[0]
    prefix = "train/" if data.is_split else ""
    x, y = data.arrays[f"{prefix}x"], data.arrays[f"{prefix}y"]
    if x.ndim != 4:
        raise DataError(f"augment needs images shaped (N, C, H, W); got {x.shape}")
    gen = torch.Generator().manual_seed(params.seed)
    images = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    out, labels = [images], [y]
    for _ in range(params.copies):
        batch = images.clone()  # (N, C, H, W)
        if params.flip:
            flip = torch.rand(len(batch), generator=gen) < 0.5
            batch[flip] = batch[flip].flip(-1)
        if params.crop_padding:
            pad = params.crop_padding
            padded = F.pad(batch, (pad, pad, pad, pad), mode="replicate")  # (N, C, H+2p, W+2p)
            dy = torch.randint(0, 2 * pad + 1, (len(batch),), generator=gen)
            dx = torch.randint(0, 2 * pad + 1, (len(batch),), generator=gen)
            h, w = batch.shape[-2:]
            batch = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(len(batch))])
        if params.noise_std:
            batch = batch + params.noise_std * torch.randn(batch.shape, generator=gen)
        out.append(batch)
        labels.append(y)
    arrays = dict(data.arrays)
    arrays[f"{prefix}x"] = torch.cat(out).numpy()
    arrays[f"{prefix}y"] = np.concatenate(labels)
    return data.with_arrays(arrays)
