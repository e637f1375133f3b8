"""The loyalty programme's customer pages: statement, rewards and redemption, vouchers."""
