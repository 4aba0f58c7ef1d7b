-- the quick preset with four-member ensembles and wider flows
return {base = "quick", members = 4, flow = {hidden = 64, n_x = {transform = "spline", bins = 12}},
        systematics = {{refit = true}, {map_radius = 4.8}}}
