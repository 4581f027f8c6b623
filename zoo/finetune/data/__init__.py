"""Training loaders: Fashion-MNIST (IDX), CIFAR-10 (python pickles), COCO 2017 instances, ADE20K.

Every dataset is indexed by a *key* ``(index, seed)``: the sample's augmentation draws from a torch
RNG seeded with ``seed`` (see :mod:`zoo.finetune.data.sampler`), so a run's data, including its
random crops and flips, depends only on (recipe seed, epoch, index) - not on worker processes, the
number of ranks, or whether the run was resumed.
"""
