"""Physics-based character control with HDyS latents (paper §4.4.3, Table 6): reference clips
(:mod:`.clips`), the PHC-style imitation environment (:mod:`.env`), PPO policies (:mod:`.policy`) and the
experiment (:mod:`.table6`)."""
