"""The campaigns app's customer pages: my gifts, gift choices and contests."""
