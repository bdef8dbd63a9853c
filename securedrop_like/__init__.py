"""securedrop_like"""
