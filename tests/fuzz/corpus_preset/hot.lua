return {
  base = "test",
  name = "hot-test",
  mock = {galaxy = "hot", stars = 30000},
  train = {lr = 1e-3, max_epochs = 3},
  finetune = {epochs = 2, lr_factor = 0.1},
  geometry = {n_line = 5, independent_s = {-0.5, 0, 0.5}},
  flow = {p_v = {transforms = 3}, n_x = {layers = "as", transform = "mixed"}},
}
