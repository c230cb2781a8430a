"""The networks: BigGAN's layers, generator and discriminator (Brock et al. 2018), the MineGAN miner, the released
BigGAN-PyTorch checkpoints and their download, and `build` (a run's G, D and miner from its config or source)."""
