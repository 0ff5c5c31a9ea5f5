generator = 3
